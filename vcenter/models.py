"""The inventory mirror: what the last sync (or the last operation) read from each vCenter.

Every row is keyed by (platform, moid): the managed object id vCenter gives the object. Rows
come from vCenter, not from typing; the admin shows them read-only.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .names import display_name


class InventoryObject(models.Model):
    """Fields shared by every mirrored vCenter object."""

    platform = models.ForeignKey(
        "platforms.CloudPlatform", models.CASCADE, related_name="+", verbose_name=_("platform")
    )
    moid = models.CharField(_("managed object id"), max_length=255)
    name = models.CharField(_("name"), max_length=255, db_index=True)
    synced_at = models.DateTimeField(_("synced"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["platform", "name"]

    def __str__(self):
        return display_name(self.name)


def _unique_moid(model_name):
    return [
        models.UniqueConstraint(
            fields=["platform", "moid"], name=f"vcenter_{model_name}_moid_unique"
        )
    ]


class Datacenter(InventoryObject):
    """A vSphere datacenter."""

    class Meta(InventoryObject.Meta):
        verbose_name = _("datacenter")
        verbose_name_plural = _("datacenters")
        constraints = _unique_moid("datacenter")


class Folder(InventoryObject):
    """A vSphere inventory folder (VM, host, datastore or network folder)."""

    datacenter = models.ForeignKey(
        Datacenter, models.CASCADE, null=True, blank=True, related_name="folders"
    )
    parent_moid = models.CharField(_("parent moid"), max_length=255, blank=True)
    child_types = models.JSONField(_("child types"), default=list, blank=True)

    class Meta(InventoryObject.Meta):
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        constraints = _unique_moid("folder")


class Cluster(InventoryObject):
    """A compute cluster (ClusterComputeResource)."""

    datacenter = models.ForeignKey(Datacenter, models.CASCADE, related_name="clusters")
    folder_moid = models.CharField(_("folder moid"), max_length=255, blank=True)
    total_cpu_mhz = models.BigIntegerField(_("total CPU (MHz)"), default=0)
    total_memory_bytes = models.BigIntegerField(_("total memory (bytes)"), default=0)
    num_hosts = models.PositiveIntegerField(_("hosts"), default=0)
    drs_enabled = models.BooleanField(_("DRS enabled"), default=False)
    ha_enabled = models.BooleanField(_("HA enabled"), default=False)

    class Meta(InventoryObject.Meta):
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        constraints = _unique_moid("cluster")


class Host(InventoryObject):
    """An ESXi host, in a cluster or standalone (then `compute_resource_moid` is its own)."""

    datacenter = models.ForeignKey(Datacenter, models.CASCADE, related_name="hosts")
    cluster = models.ForeignKey(
        Cluster, models.SET_NULL, null=True, blank=True, related_name="hosts"
    )
    compute_resource_moid = models.CharField(_("compute resource moid"), max_length=255, blank=True)
    folder_moid = models.CharField(
        _("folder moid"), max_length=255, blank=True, help_text=_("A standalone host's folder.")
    )
    connection_state = models.CharField(_("connection state"), max_length=32, blank=True)
    power_state = models.CharField(_("power state"), max_length=32, blank=True)
    in_maintenance = models.BooleanField(_("in maintenance mode"), default=False)
    cpu_cores = models.PositiveIntegerField(_("CPU cores"), default=0)
    cpu_mhz = models.PositiveIntegerField(_("CPU MHz per core"), default=0)
    memory_bytes = models.BigIntegerField(_("memory (bytes)"), default=0)
    version = models.CharField(_("version"), max_length=64, blank=True)

    class Meta(InventoryObject.Meta):
        verbose_name = _("host")
        verbose_name_plural = _("hosts")
        constraints = _unique_moid("host")


class ResourcePool(InventoryObject):
    """A resource pool under a cluster or a standalone host (the root pool included)."""

    datacenter = models.ForeignKey(Datacenter, models.CASCADE, related_name="resource_pools")
    cluster = models.ForeignKey(
        Cluster, models.CASCADE, null=True, blank=True, related_name="resource_pools"
    )
    owner_moid = models.CharField(_("owner moid"), max_length=255, blank=True)
    parent_moid = models.CharField(_("parent moid"), max_length=255, blank=True)
    cpu_limit = models.BigIntegerField(_("CPU limit (MHz)"), null=True, blank=True)
    cpu_reservation = models.BigIntegerField(_("CPU reservation (MHz)"), null=True, blank=True)
    memory_limit = models.BigIntegerField(_("memory limit (MB)"), null=True, blank=True)
    memory_reservation = models.BigIntegerField(_("memory reservation (MB)"), null=True, blank=True)

    class Meta(InventoryObject.Meta):
        verbose_name = _("resource pool")
        verbose_name_plural = _("resource pools")
        constraints = _unique_moid("resourcepool")


class Datastore(InventoryObject):
    """A datastore with its capacity and the hosts that mount it."""

    datacenter = models.ForeignKey(Datacenter, models.CASCADE, related_name="datastores")
    type = models.CharField(_("type"), max_length=32, blank=True)
    url = models.CharField(_("URL"), max_length=512, blank=True)
    capacity_bytes = models.BigIntegerField(_("capacity (bytes)"), default=0)
    free_bytes = models.BigIntegerField(_("free space (bytes)"), default=0)
    accessible = models.BooleanField(_("accessible"), default=True)
    hosts = models.ManyToManyField(Host, blank=True, related_name="datastores")

    class Meta(InventoryObject.Meta):
        verbose_name = _("datastore")
        verbose_name_plural = _("datastores")
        constraints = _unique_moid("datastore")


class NetworkKindChoices(models.TextChoices):
    """What kind of network a port group is."""

    STANDARD = "standard", _("standard port group")
    DISTRIBUTED = "distributed", _("distributed port group")
    OPAQUE = "opaque", _("opaque network")


class Network(InventoryObject):
    """A network a VM can attach to: a standard or distributed port group."""

    datacenter = models.ForeignKey(Datacenter, models.CASCADE, related_name="networks")
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=NetworkKindChoices.choices,
        default=NetworkKindChoices.STANDARD,
    )
    switch_moid = models.CharField(_("switch moid"), max_length=255, blank=True)
    switch_name = models.CharField(_("switch"), max_length=255, blank=True)
    switch_uuid = models.CharField(_("switch uuid"), max_length=64, blank=True)
    portgroup_key = models.CharField(_("port group key"), max_length=64, blank=True)
    vlan_id = models.IntegerField(_("VLAN"), null=True, blank=True)
    is_uplink = models.BooleanField(_("uplink port group"), default=False)
    hosts = models.ManyToManyField(Host, blank=True, related_name="networks")

    class Meta(InventoryObject.Meta):
        verbose_name = _("port group")
        verbose_name_plural = _("port groups")
        constraints = _unique_moid("network")


class VirtualMachinePowerStateChoices(models.TextChoices):
    """vSphere's power states of a VM."""

    POWERED_ON = "poweredOn", _("powered on")
    POWERED_OFF = "poweredOff", _("powered off")
    SUSPENDED = "suspended", _("suspended")


class VirtualMachine(InventoryObject):
    """A virtual machine or template as vCenter last reported it."""

    datacenter = models.ForeignKey(Datacenter, models.CASCADE, related_name="vms")
    cluster = models.ForeignKey(Cluster, models.SET_NULL, null=True, blank=True, related_name="vms")
    host = models.ForeignKey(Host, models.SET_NULL, null=True, blank=True, related_name="vms")
    resource_pool = models.ForeignKey(
        ResourcePool, models.SET_NULL, null=True, blank=True, related_name="vms"
    )
    folder = models.ForeignKey(Folder, models.SET_NULL, null=True, blank=True, related_name="vms")
    datastores = models.ManyToManyField(Datastore, blank=True, related_name="vms")
    networks = models.ManyToManyField(Network, blank=True, related_name="vms")
    instance_uuid = models.CharField(_("instance UUID"), max_length=64, blank=True, db_index=True)
    bios_uuid = models.CharField(_("BIOS UUID"), max_length=64, blank=True)
    power_state = models.CharField(
        _("power state"),
        max_length=16,
        choices=VirtualMachinePowerStateChoices.choices,
        default=VirtualMachinePowerStateChoices.POWERED_OFF,
        db_index=True,
    )
    num_cpu = models.PositiveIntegerField(_("CPUs"), default=0)
    memory_mb = models.PositiveIntegerField(_("memory (MB)"), default=0)
    guest_id = models.CharField(_("guest OS id"), max_length=64, blank=True)
    guest_full_name = models.CharField(_("guest OS"), max_length=255, blank=True)
    ip_address = models.CharField(_("IP address"), max_length=64, blank=True)
    ip_addresses = models.JSONField(_("IP addresses"), default=list, blank=True)
    hostname = models.CharField(_("guest host name"), max_length=255, blank=True)
    tools_status = models.CharField(_("VMware Tools"), max_length=32, blank=True)
    is_template = models.BooleanField(_("template"), default=False, db_index=True)
    vm_path = models.CharField(_("configuration file"), max_length=512, blank=True)
    annotation = models.TextField(_("notes"), blank=True)

    class Meta(InventoryObject.Meta):
        verbose_name = _("virtual machine")
        verbose_name_plural = _("virtual machines")
        constraints = _unique_moid("virtualmachine")
        permissions = [
            ("power_virtualmachine", _("Can power virtual machines on, off, suspend and reboot")),
            ("clone_virtualmachine", _("Can clone virtual machines")),
            ("migrate_virtualmachine", _("Can migrate virtual machines")),
            ("customize_virtualmachine", _("Can assign IP addresses to virtual machines")),
            ("snapshot_virtualmachine", _("Can create, revert and delete snapshots")),
            ("disk_virtualmachine", _("Can add and remove virtual disks")),
            ("network_virtualmachine", _("Can add and remove network adapters")),
            ("sync_inventory", _("Can synchronise vCenter inventory")),
        ]


class Snapshot(InventoryObject):
    """A snapshot of a VM; `parent` makes the tree, `is_current` marks where the VM stands."""

    vm = models.ForeignKey(VirtualMachine, models.CASCADE, related_name="snapshots")
    parent = models.ForeignKey(
        "self", models.CASCADE, null=True, blank=True, related_name="children"
    )
    snapshot_id = models.IntegerField(_("snapshot id"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_in_vcenter = models.DateTimeField(_("taken at"), null=True, blank=True)
    state = models.CharField(_("power state when taken"), max_length=16, blank=True)
    quiesced = models.BooleanField(_("quiesced"), default=False)
    is_current = models.BooleanField(_("current"), default=False)

    class Meta(InventoryObject.Meta):
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        ordering = ["vm", "created_in_vcenter", "id"]
        constraints = _unique_moid("snapshot")


class IsoImage(models.Model):
    """An `.iso` file found on a datastore by the sync, usable as a VM's CD-ROM backing."""

    platform = models.ForeignKey(
        "platforms.CloudPlatform", models.CASCADE, related_name="+", verbose_name=_("platform")
    )
    datastore = models.ForeignKey(Datastore, models.CASCADE, related_name="images")
    path = models.CharField(_("datastore path"), max_length=1024)
    name = models.CharField(_("file name"), max_length=255, db_index=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), default=0)
    modified_at = models.DateTimeField(_("modified"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced"), auto_now=True)

    class Meta:
        verbose_name = _("ISO image")
        verbose_name_plural = _("ISO images")
        ordering = ["datastore", "path"]
        constraints = [
            models.UniqueConstraint(
                fields=["datastore", "path"], name="vcenter_isoimage_path_unique"
            )
        ]

    def __str__(self):
        return self.path
