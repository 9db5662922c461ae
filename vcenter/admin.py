"""The vCenter inventory in the admin, and the VM operations operators run from it.

The mirror is read-only here (it comes from vCenter, not from typing). Rows link to what they
belong to (VM → host → cluster → datacenter) and the VM page lists its snapshots and task logs.
VM actions (power, snapshot now, sync the platform) and the clone and migrate forms call the same
services as the API, are offered only to users holding the matching custom permission, and leave
a message stating the outcome or linking to the TaskLog that records it.
"""

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.admin import admin_link, can_view_task_logs, task_log_message
from audit.models import TaskLog
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from platforms.models import CloudPlatform

from . import devices, operations, services
from .admin_forms import CloneForm, MigrateForm
from .client import VCenterError
from .models import (
    Cluster,
    Datacenter,
    Datastore,
    Folder,
    Host,
    IsoImage,
    Network,
    ResourcePool,
    Snapshot,
    VirtualMachine,
)
from .names import display_name, escape_name

logger = logging.getLogger(__name__)

POWER = "vcenter.power_virtualmachine"
CLONE = "vcenter.clone_virtualmachine"
MIGRATE = "vcenter.migrate_virtualmachine"
SNAPSHOT = "vcenter.snapshot_virtualmachine"
SYNC = "vcenter.sync_inventory"
MAX_DB_ID = 2**63 - 1


def _link(field, description, ordering=None):
    """A list column showing the related object `field` as a link to its admin page."""

    @admin.display(description=description, ordering=ordering or f"{field}__name")
    def column(self, obj):
        return admin_link(getattr(obj, field)) or "-"

    column.__name__ = f"{field}_link"
    return column


def _count_link(annotation, target, filter_field, description):
    """A list column showing the count `annotation` as a link to `target`'s filtered list."""

    @admin.display(description=description, ordering=annotation)
    def column(self, obj):
        url = reverse(f"admin:vcenter_{target}_changelist")
        count = getattr(obj, annotation)
        return format_html('<a href="{}?{}__id__exact={}">{}</a>', url, filter_field, obj.pk, count)

    column.__name__ = annotation
    return column


class InventoryAdmin(admin.ModelAdmin):
    """The mirror comes from vCenter: it is read here, never typed in or deleted.

    Deleting a row would not delete the object in vCenter, and the next sync would bring it
    back; VMs are deleted through the API's `DELETE vcenter/vms/{id}`, which asks vCenter.
    """

    list_filter = ["platform"]
    search_fields = ["name", "moid"]
    list_select_related = ["platform"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        """Match names as typed too: `a/b` finds the VM vSphere stores as `a%2fb`."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        escaped = escape_name(search_term)
        if escaped != search_term:
            more, more_duplicates = super().get_search_results(request, queryset, escaped)
            results, duplicates = results | more, duplicates or more_duplicates
        return results, duplicates

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, obj):
        """The name as typed, not in the escaped form vSphere stores (`%2f` for `/`)."""
        return display_name(obj.name)


@admin.register(Datacenter)
class DatacenterAdmin(InventoryAdmin):
    list_display = ["display_name", "platform", "moid", "cluster_count", "vm_count", "synced_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                cluster_count=Count("clusters", distinct=True), vm_count=Count("vms", distinct=True)
            )
        )

    cluster_count = _count_link("cluster_count", "cluster", "datacenter", _("clusters"))
    vm_count = _count_link("vm_count", "virtualmachine", "datacenter", _("virtual machines"))


@admin.register(Folder)
class FolderAdmin(InventoryAdmin):
    list_display = ["display_name", "datacenter_link", "parent_moid", "platform", "moid"]
    list_select_related = ["datacenter", "platform"]
    datacenter_link = _link("datacenter", _("datacenter"))


@admin.register(Cluster)
class ClusterAdmin(InventoryAdmin):
    list_display = [
        "display_name",
        "datacenter_link",
        "num_hosts",
        "drs_enabled",
        "ha_enabled",
        "vm_count",
        "platform",
    ]
    list_filter = ["platform", "datacenter", "drs_enabled", "ha_enabled"]
    list_select_related = ["datacenter", "platform"]
    datacenter_link = _link("datacenter", _("datacenter"))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(vm_count=Count("vms"))

    vm_count = _count_link("vm_count", "virtualmachine", "cluster", _("virtual machines"))


@admin.register(Host)
class HostAdmin(InventoryAdmin):
    list_display = [
        "display_name",
        "cluster_link",
        "datacenter_link",
        "connection_state",
        "power_state",
        "in_maintenance",
        "vm_count",
        "version",
        "platform",
    ]
    list_filter = ["platform", "connection_state", "power_state", "in_maintenance", "cluster"]
    list_select_related = ["cluster", "datacenter", "platform"]
    cluster_link = _link("cluster", _("cluster"))
    datacenter_link = _link("datacenter", _("datacenter"))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(vm_count=Count("vms"))

    vm_count = _count_link("vm_count", "virtualmachine", "host", _("virtual machines"))


@admin.register(ResourcePool)
class ResourcePoolAdmin(InventoryAdmin):
    list_display = [
        "display_name",
        "cluster_link",
        "datacenter_link",
        "cpu_limit",
        "memory_limit",
        "platform",
    ]
    list_select_related = ["cluster", "datacenter", "platform"]
    cluster_link = _link("cluster", _("cluster"))
    datacenter_link = _link("datacenter", _("datacenter"))


@admin.register(Datastore)
class DatastoreAdmin(InventoryAdmin):
    list_display = [
        "display_name",
        "type",
        "capacity_bytes",
        "free_bytes",
        "accessible",
        "datacenter_link",
        "platform",
    ]
    list_filter = ["platform", "type", "accessible"]
    list_select_related = ["datacenter", "platform"]
    datacenter_link = _link("datacenter", _("datacenter"))


@admin.register(Network)
class NetworkAdmin(InventoryAdmin):
    list_display = ["display_name", "kind", "vlan_id", "switch_name", "datacenter_link", "platform"]
    list_filter = ["platform", "kind"]
    list_select_related = ["datacenter", "platform"]
    datacenter_link = _link("datacenter", _("datacenter"))


@admin.register(IsoImage)
class IsoImageAdmin(InventoryAdmin):
    list_display = ["path", "size_bytes", "modified_at", "datastore_link", "platform", "synced_at"]
    list_filter = ["platform", "datastore"]
    search_fields = ["name", "path"]
    list_select_related = ["datastore", "platform"]
    datastore_link = _link("datastore", _("datastore"))


@admin.register(Snapshot)
class SnapshotAdmin(InventoryAdmin):
    list_display = [
        "display_name",
        "vm_link",
        "created_in_vcenter",
        "state",
        "is_current",
        "platform",
    ]
    list_filter = ["platform", "is_current", "state"]
    search_fields = ["name", "moid", "description", "vm__name"]
    list_select_related = ["vm", "platform"]
    date_hierarchy = "created_in_vcenter"
    vm_link = _link("vm", _("virtual machine"), "vm__name")


class SnapshotInline(admin.TabularInline):
    """A VM's snapshots, as the last read of its tree left them."""

    model = Snapshot
    fk_name = "vm"
    fields = ["name", "created_in_vcenter", "state", "is_current", "description"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _vm_label(vm):
    # Quoted: the admin capitalises a message's first letter, and vSphere names are
    # case-sensitive ("ops-web01" and "OPS-WEB01" may both exist).
    return f"“{operations.display_name(vm.name)}”"


def _outcome_text(vm, code, detail=""):
    """`"VM name": message (code)`, with the operation's detail sentence when it has one."""
    text = f"{_vm_label(vm)}: {code.msg} ({code.number})"
    return f"{text} — {detail}" if detail else text


def _error_text(vm, exc):
    """The message for a refused VM operation: the code, its message and why."""
    if isinstance(exc, ApiError):
        data = exc.data or {}
        detail = data.get("detail") or "; ".join(
            f"{field}: {' '.join(str(m) for m in reasons)}"
            for field, reasons in (data.get("errors") or {}).items()
        )
        return _outcome_text(vm, exc.code, detail)
    return f"{_vm_label(vm)}: {exc}"


def sync_platforms(model_admin, request, platforms):
    """Queue a sync of each of `platforms` for an admin action and tell the user how each went.

    The caller has checked `vcenter.sync_inventory`. A platform already syncing is reported
    with a link to the running TaskLog instead of starting another sync.
    """
    for platform in platforms:
        try:
            task_log = services.start_sync(platform, request.user)
        except services.SyncRunning as exc:
            text = _("A sync of %(platform)s is already running.") % {"platform": platform}
            if exc.task_log is not None:
                text = format_html("{} {}", text, task_log_message(exc.task_log, request.user))
            model_admin.message_user(request, text, messages.WARNING)
            continue
        task_log.refresh_from_db()
        model_admin.message_user(
            request,
            format_html(
                "{} {}",
                _("Sync of %(platform)s:") % {"platform": platform},
                task_log_message(task_log, request.user),
            ),
            messages.ERROR if task_log.status == "failure" else messages.SUCCESS,
        )


@admin.register(VirtualMachine)
class VirtualMachineAdmin(InventoryAdmin):
    list_display = [
        "display_name",
        "power_state",
        "num_cpu",
        "memory_mb",
        "ip_address",
        "host_link",
        "cluster_link",
        "datacenter_link",
        "is_template",
        "platform",
    ]
    list_filter = ["platform", "power_state", "is_template", "datacenter", "cluster"]
    search_fields = ["name", "moid", "ip_address", "instance_uuid", "guest_full_name"]
    list_select_related = ["host", "cluster", "datacenter", "platform"]
    readonly_fields = ["related_logs", "devices"]
    inlines = [SnapshotInline]
    actions = [
        "power_on",
        "power_off",
        "suspend",
        "reboot",
        "snapshot_now",
        "sync_platform",
    ]
    host_link = _link("host", _("host"))
    cluster_link = _link("cluster", _("cluster"))
    datacenter_link = _link("datacenter", _("datacenter"))

    # Permissions: each action and button needs the custom permission the API checks.

    def has_power_permission(self, request):
        return request.user.has_perm(POWER)

    def has_snapshot_permission(self, request):
        return request.user.has_perm(SNAPSHOT)

    def has_sync_permission(self, request):
        return request.user.has_perm(SYNC)

    def has_clone_permission(self, request, obj=None):
        return request.user.has_perm(CLONE) and self.has_view_permission(request, obj)

    def has_migrate_permission(self, request, obj=None):
        return request.user.has_perm(MIGRATE) and self.has_view_permission(request, obj)

    # The VM page: related task logs and events, and the clone and migrate buttons.

    @admin.display(description=_("history"))
    def related_logs(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        scope = f"object_type={VirtualMachine._meta.label}&object_id={obj.pk}"
        tasks = TaskLog.objects.filter(
            object_type=VirtualMachine._meta.label, object_id=str(obj.pk)
        ).count()
        return format_html(
            '<a href="{}?{}">{}</a> · <a href="{}?{}">{}</a>',
            reverse("admin:audit_tasklog_changelist"),
            scope,
            _("%(count)s task logs") % {"count": tasks},
            reverse("admin:audit_eventlog_changelist"),
            scope,
            _("events"),
        )

    @admin.display(description=_("disks and network adapters"))
    def devices(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<div class="vm-devices"><div data-disks-url="{}" data-empty="{}">{}</div>'
            '<div data-nics-url="{}" data-empty="{}"></div></div>',
            reverse("vm-disk-list", kwargs={"vm_id": obj.pk}),
            _("no virtual disks"),
            _("Reading from vCenter…"),
            reverse("vm-network-list", kwargs={"vm_id": obj.pk}),
            _("no network adapters"),
        )

    def get_fields(self, request, obj=None):
        extra = ["related_logs", "devices"]
        fields = [f for f in super().get_fields(request, obj) if f not in extra]
        return [*fields, *extra]

    class Media:
        js = ["vcenter/admin/vm_devices.js"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_clone": self.has_clone_permission(request),
            "can_migrate": self.has_migrate_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/clone/",
                view(self.clone_view),
                name="vcenter_virtualmachine_clone",
            ),
            path(
                "<int:object_id>/migrate/",
                view(self.migrate_view),
                name="vcenter_virtualmachine_migrate",
            ),
            *super().get_urls(),
        ]

    # Actions

    @admin.action(description=_("Power on"), permissions=["power"])
    def power_on(self, request, queryset):
        self._power(request, queryset, "on")

    @admin.action(description=_("Power off"), permissions=["power"])
    def power_off(self, request, queryset):
        self._power(request, queryset, "off")

    @admin.action(description=_("Suspend"), permissions=["power"])
    def suspend(self, request, queryset):
        self._power(request, queryset, "suspend")

    @admin.action(description=_("Reboot"), permissions=["power"])
    def reboot(self, request, queryset):
        self._power(request, queryset, "reboot")

    def _power(self, request, queryset, action):
        """Run one power action on each selected VM in the request, as the API does."""
        if not self.has_power_permission(request):
            raise PermissionDenied
        for vm in queryset.select_related("platform", "host"):
            try:
                outcome = operations.power(request.user, vm, action)
            except (ApiError, VCenterError) as exc:
                self.message_user(request, _error_text(vm, exc), messages.ERROR)
                continue
            detail = "" if outcome.data.get("changed", True) else outcome.data.get("detail", "")
            self.message_user(request, _outcome_text(vm, outcome.code, detail), messages.SUCCESS)

    @admin.action(description=_("Take a snapshot now"), permissions=["snapshot"])
    def snapshot_now(self, request, queryset):
        """Snapshot each selected VM (without memory), named after the time and the user."""
        if not self.has_snapshot_permission(request):
            raise PermissionDenied
        name = f"admin {timezone.now():%Y-%m-%d %H:%M:%S} {request.user.get_username()}"
        for vm in queryset.select_related("platform", "datacenter"):
            try:
                node = devices.create_snapshot(
                    vm, name, description=str(_("Taken from the admin.")), user=request.user
                )
            except (ApiError, VCenterError) as exc:
                self.message_user(request, _error_text(vm, exc), messages.ERROR)
                continue
            snapshot = Snapshot.objects.filter(pk=node["id"]).first() if node else None
            link = admin_link(snapshot, name) if snapshot else name
            self.message_user(
                request,
                format_html("{} {}", _outcome_text(vm, codes.SNAPSHOT_CREATED), link),
                messages.SUCCESS,
            )

    @admin.action(description=_("Sync this platform"), permissions=["sync"])
    def sync_platform(self, request, queryset):
        """Queue one inventory sync per platform of the selected VMs."""
        if not self.has_sync_permission(request):
            raise PermissionDenied
        platforms = CloudPlatform.objects.filter(pk__in=queryset.values("platform_id"))
        sync_platforms(self, request, platforms)

    # Clone and migrate: small forms, then the API's operations.

    def clone_view(self, request, object_id):
        return self._operation_view(
            request,
            object_id,
            form_class=CloneForm,
            allowed=self.has_clone_permission,
            plan=operations.plan_clone,
            title=_("Clone %(vm)s"),
        )

    def migrate_view(self, request, object_id):
        return self._operation_view(
            request,
            object_id,
            form_class=MigrateForm,
            allowed=self.has_migrate_permission,
            plan=operations.plan_migrate,
            title=_("Migrate %(vm)s"),
        )

    def _operation_view(self, request, object_id, *, form_class, allowed, plan, title):
        """Show `form_class` for the VM; on a valid POST queue `plan` and go to its TaskLog."""
        if object_id > MAX_DB_ID:
            raise Http404
        vm = get_object_or_404(
            VirtualMachine.objects.select_related("platform", "datacenter", "host", "folder"),
            pk=object_id,
        )
        if not allowed(request, vm):
            raise PermissionDenied

        # Validate the form, then let the operation check what only it and vCenter know.
        form = form_class(request.POST if request.method == "POST" else None, vm=vm)
        if request.method == "POST" and form.is_valid():
            try:
                task_log = plan(request.user, vm, form.operation_data())
            except (ApiError, VCenterError) as exc:
                self._form_errors(form, vm, exc)
            else:
                task_log.refresh_from_db()
                level = messages.ERROR if task_log.status == "failure" else messages.SUCCESS
                self.message_user(request, task_log_message(task_log, request.user), level)
                if can_view_task_logs(request.user):
                    return redirect("admin:audit_tasklog_change", task_log.pk)
                return redirect("admin:vcenter_virtualmachine_change", vm.pk)

        # Show the form (again, with the errors) in the admin's frame.
        context = {
            **self.admin_site.each_context(request),
            "title": title % {"vm": operations.display_name(vm.name)},
            "opts": self.opts,
            "original": vm,
            "form": form,
            "has_view_permission": True,
        }
        return TemplateResponse(
            request, "admin/vcenter/virtualmachine/operation_form.html", context
        )

    @staticmethod
    def _form_errors(form, vm, exc):
        """Put a refused operation's field errors on the form's fields, the rest on top."""
        errors = (getattr(exc, "data", None) or {}).get("errors") or {}
        for field, reasons in errors.items():
            target = field if field in form.fields else None
            form.add_error(target, [str(reason) for reason in reasons])
        form.add_error(None, _error_text(vm, exc))
