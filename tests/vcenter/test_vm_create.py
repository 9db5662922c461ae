"""Creating VMs on the simulator: POST vcenter/vms (202 + TaskLog 2000; 2001-2008, 908)."""

import os
from unittest import mock

import pytest
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for, assert_vm_matches_vsphere
from tests.factories import UserFactory
from vcenter.client import vms as vc
from vcenter.client.errors import VCenterTaskFault
from vcenter.models import Datacenter, Datastore, Folder, IsoImage, VirtualMachine

pytestmark = pytest.mark.django_db


def vm_count(content):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return len(view.view)
    finally:
        view.Destroy()


def find_vm(content, name):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return next((vm for vm in view.view if vm.name == name), None)
    finally:
        view.Destroy()


def drop_iso(sim, relative="iso/ubuntu-24.04.iso"):
    """Put a file into the simulator's datastore folder, where the datastore browser finds it."""
    path = os.path.join(sim.datastore_dir, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"\0" * 1024)
    return f"[LocalDS_0] {relative}"


@pytest.fixture
def body(fresh_synced):
    """A valid create request for the fresh simulator's cluster."""
    return {
        "name": "app-01",
        "platform": fresh_synced.pk,
        "datacenter": Datacenter.objects.get(platform=fresh_synced).pk,
        "cluster": "DC0_C0",
        "datastore": "LocalDS_0",
        "cpu": 2,
        "memory_mb": 2048,
        "guest_id": "ubuntu64Guest",
        "disks": [{"type": "thin", "size": 10}],
        "networks": ["VM Network"],
    }


def create(api, body):
    response = api.post("/api/vcenter/vms", body, format="json")
    return response, response.json()


def task_log_of(body):
    return TaskLog.objects.get(pk=body["data"]["task_id"])


def test_create_vm_with_disks_nics_and_iso_matches_vsphere(api, body, vsphere, vcsim_fresh):
    iso = drop_iso(vcsim_fresh)
    body.update(
        disks=[
            {"type": "thin", "size": 10},
            {"type": "thick", "size": 2},
            {"type": "eagerZeroedThick", "size": 1},
        ],
        networks=["VM Network", "DC0_DVPG0"],
        iso=iso,
        power_on=True,
    )
    response, answer = create(api, body)
    assert response.status_code == 202
    assert answer["code"] == codes.TASK_ACCEPTED.number

    # The TaskLog ends with 2000, the new VM's ids and the vCenter task that made it.
    task_log = task_log_of(answer)
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.VM_CREATED.number
    assert task_log.progress == 100
    assert task_log.vcenter_task.startswith("task-")
    assert task_log.result["powered_on"] is True
    assert task_log.args["plan"]["name"] == "app-01"
    # ... and names the VM it made, so the VM's history lists it.
    assert (task_log.object_type, task_log.object_id) == (
        "vcenter.VirtualMachine",
        str(task_log.result["id"]),
    )

    # vCenter holds the devices that were asked for.
    vm = vim.VirtualMachine(task_log.result["moid"], vsphere.propertyCollector._stub)
    devices = vm.config.hardware.device
    disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    assert [d.capacityInKB // (1024 * 1024) for d in disks] == [10, 2, 1]
    assert [(d.backing.thinProvisioned, d.backing.eagerlyScrub) for d in disks] == [
        (True, False),
        (False, False),
        (False, True),
    ]
    assert {d.controllerKey for d in disks} == {
        d.key for d in devices if isinstance(d, vim.vm.device.ParaVirtualSCSIController)
    }
    nics = [d for d in devices if isinstance(d, vim.vm.device.VirtualVmxnet3)]
    assert nics[0].backing.deviceName == "VM Network"
    assert nics[1].backing.port.portgroupKey == "dvportgroup-13"
    [cdrom] = [d for d in devices if isinstance(d, vim.vm.device.VirtualCdrom)]
    assert cdrom.backing.fileName == iso
    assert vm.config.guestId == "ubuntu64Guest"

    # The API shows the VM as vCenter has it, without waiting for a sync.
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()
    assert detail["code"] == codes.VM_QUERY_OK.number
    assert detail["data"]["power_state"] == "poweredOn"
    assert detail["data"]["cluster_name"] == "DC0_C0"
    assert detail["data"]["network_names"] == ["DC0_DVPG0", "VM Network"]
    assert_vm_matches_vsphere(detail["data"], vsphere)
    assert EventLog.objects.filter(action="create", object_id=str(task_log.result["id"])).exists()


def test_create_vm_on_standalone_host_without_disks(api, body, vsphere):
    body.pop("cluster")
    body.update(host="DC0_H0", disks=[], networks=[], memory_mb=512)
    _response, answer = create(api, body)
    task_log = task_log_of(answer)
    assert task_log.code == codes.VM_CREATED.number, task_log.error
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()["data"]
    assert detail["host_name"] == "DC0_H0"
    assert detail["power_state"] == "poweredOff"
    assert_vm_matches_vsphere(detail, vsphere)


@pytest.mark.parametrize(
    "name",
    ["web/01", "100% ready", "back\\slash", "数据库-主", "a/b%c\\d ü 🚀"],
    ids=["slash", "percent", "backslash", "chinese", "mixed"],
)
def test_create_vm_shows_the_users_name_for_special_characters(api, body, vsphere, name):
    """vSphere stores `/`, `%` and `\\` escaped (%2f, %25, %5c); the portal shows what was typed."""
    body["name"] = name
    _response, answer = create(api, body)
    task_log = task_log_of(answer)
    assert task_log.code == codes.VM_CREATED.number, task_log.error
    escaped = name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")
    assert find_vm(vsphere, escaped) is not None
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()["data"]
    assert detail["name"] == name
    assert_vm_matches_vsphere(detail, vsphere)
    listed = api.get("/api/vcenter/vms", {"name": name}).json()["data"]
    assert [vm["name"] for vm in listed["results"]] == [name]


def test_create_vm_refuses_a_name_taken_in_the_folder(api, body, vsphere):
    """vcsim accepts duplicate names in a folder; a real vCenter does not, so the portal refuses
    before anything is sent (2005)."""
    body["name"] = "DC0_H0_VM0"
    before = vm_count(vsphere)
    with mock.patch.object(vc, "start_create") as start_create:
        response, answer = create(api, body)
    assert response.status_code == 409
    assert answer["code"] == codes.VM_CREATE_TASK_FAILED.number
    assert "already exists in folder vm" in answer["data"]["detail"]
    start_create.assert_not_called()
    assert vm_count(vsphere) == before
    assert not TaskLog.objects.filter(name="vcenter.create").exists()


def test_create_vm_task_fails_when_vcenter_refuses(api, body, vsphere, fresh_synced):
    """The folder is deleted in vCenter between validation and the task (the patch only sets the
    moment); vCenter refuses CreateVM and the TaskLog ends 2005 with its reason."""
    team = vim.Folder("folder-3", vsphere.propertyCollector._stub).CreateFolder("team")
    from vcenter import services

    services.start_sync(fresh_synced)
    assert Folder.objects.filter(name="team").exists()
    body["folder"] = "team"
    real_start = vc.start_create

    def folder_vanishes(content, plan):
        team.Destroy_Task()
        return real_start(content, plan)

    before = vm_count(vsphere)
    with mock.patch.object(vc, "start_create", folder_vanishes):
        response, answer = create(api, body)
    assert response.status_code == 202
    task_log = task_log_of(answer)
    assert task_log.status == "failure"
    assert task_log.code == codes.VM_CREATE_TASK_FAILED.number
    assert "managed object not found: Folder" in task_log.error
    assert vm_count(vsphere) == before
    assert not VirtualMachine.objects.filter(name="app-01").exists()


@pytest.mark.parametrize(
    ("disks", "code"),
    [
        ([{"size": 10}], codes.VM_CREATE_NO_DISK_TYPE),
        ([{"type": "", "size": 10}], codes.VM_CREATE_NO_DISK_TYPE),
        ([{"type": "thin"}], codes.VM_CREATE_NO_DISK_SIZE),
        ([{"type": "thin", "size": 1}, {"type": "thick"}], codes.VM_CREATE_NO_DISK_SIZE),
        ("not json", codes.VM_CREATE_BAD_DISKS),
        ({"type": "thin", "size": 1}, codes.VM_CREATE_BAD_DISKS),
        (["thin"], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "sparse", "size": 1}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": 0}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": -5}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": 1.5}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": "ten"}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": True}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": 10**9}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": 1, "szie": 2}], codes.VM_CREATE_BAD_DISKS),
        ([{"type": "thin", "size": 1}] * 16, codes.VM_CREATE_BAD_DISKS),
    ],
    ids=[
        "no-type",
        "empty-type",
        "no-size",
        "second-no-size",
        "text",
        "object",
        "strings",
        "unknown-type",
        "zero",
        "negative",
        "fraction",
        "word",
        "bool",
        "huge",
        "unknown-key",
        "too-many",
    ],
)
def test_create_vm_rejects_bad_disk_lists(api, body, disks, code):
    body["disks"] = disks
    with mock.patch.object(vc, "start_create") as start_create:
        response, answer = create(api, body)
    assert response.status_code == 400
    assert answer["code"] == code.number
    assert '[{"type": "thin", "size": 10}]' in str(answer["data"]["errors"]["disks"])
    start_create.assert_not_called()


def test_create_vm_with_iso_image_from_the_inventory(api, body, vsphere, vcsim_fresh):
    path = drop_iso(vcsim_fresh, "isos/debian.iso")
    datastore = Datastore.objects.get(name="LocalDS_0")
    image = IsoImage.objects.create(
        platform=datastore.platform, datastore=datastore, path=path, name="debian.iso"
    )
    body["iso"] = image.pk
    _response, answer = create(api, body)
    task_log = task_log_of(answer)
    assert task_log.code == codes.VM_CREATED.number, task_log.error
    vm = vim.VirtualMachine(task_log.result["moid"], vsphere.propertyCollector._stub)
    [cdrom] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualCdrom)]
    assert cdrom.backing.fileName == path


def test_create_vm_accepts_disks_as_json_text(api, body):
    body["disks"] = '[{"type": "thick", "size": "1"}]'
    _response, answer = create(api, body)
    task_log = task_log_of(answer)
    assert task_log.code == codes.VM_CREATED.number, task_log.error
    assert task_log.args["plan"]["disks"] == [{"type": "thick", "size": 1}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"datacenter": 999999}, "datacenter"),
        ({"datacenter": "DC9"}, "datacenter"),
        ({"platform": 999999}, "datacenter"),
        ({"cluster": "no-such-cluster"}, "cluster"),
        ({"cluster": None}, "cluster"),
        ({"cluster": None, "host": "DC0_H0", "resource_pool": "no-pool"}, "resource_pool"),
        ({"host": "DC0_H0"}, "host"),
        ({"folder": "nope"}, "folder"),
        ({"datacenter": True}, "datacenter"),
    ],
    ids=[
        "unknown-id",
        "unknown-name",
        "other-platform",
        "unknown-cluster",
        "no-placement",
        "unknown-pool",
        "host-outside-cluster",
        "unknown-folder",
        "bool-id",
    ],
)
def test_create_vm_with_unknown_datacenter_or_placement_answers_2004(api, body, change, field):
    body.update(change)
    response, answer = create(api, body)
    assert response.status_code == 400
    assert answer["code"] == codes.VM_CREATE_NO_DATACENTER.number
    assert field in answer["data"]["errors"]


@pytest.mark.parametrize(
    "networks",
    [["no-such-port-group"], ["DVS0-DVUplinks-9"], [999999], "VM Network"],
    ids=["unknown", "uplink", "unknown-id", "not-a-list"],
)
def test_create_vm_with_bad_port_group_answers_2006_before_vcenter(api, body, networks, vsphere):
    body["networks"] = networks
    before = vm_count(vsphere)
    response, answer = create(api, body)
    assert response.status_code == 400
    assert answer["code"] == codes.VM_CREATE_NETWORK_FAILED.number
    assert "networks" in answer["data"]["errors"]
    assert vm_count(vsphere) == before


def test_create_vm_network_refused_by_vcenter_answers_2006(api, body, vsphere):
    """A cluster host left the distributed switch after the last sync: the mirror still shows
    the port group on the cluster, vCenter refuses the NIC and the TaskLog ends 2006."""
    dvs = next(
        obj
        for obj in vsphere.viewManager.CreateContainerView(
            vsphere.rootFolder, [vim.DistributedVirtualSwitch], True
        ).view
    )
    idle = next(
        host
        for host in vsphere.viewManager.CreateContainerView(
            vsphere.rootFolder, [vim.HostSystem], True
        ).view
        if host.parent.name == "DC0_C0" and not host.vm
    )
    spec = vim.dvs.VmwareDistributedVirtualSwitch.ConfigSpec(
        configVersion=dvs.config.configVersion,
        host=[vim.dvs.HostMember.ConfigSpec(operation="remove", host=idle)],
    )
    assert dvs.ReconfigureDvs_Task(spec).info.state == "success"
    body["networks"] = ["DC0_DVPG0"]
    before = vm_count(vsphere)
    _response, answer = create(api, body)
    task_log = task_log_of(answer)
    assert task_log.status == "failure"
    assert task_log.code == codes.VM_CREATE_NETWORK_FAILED.number
    assert "switchUuid" in task_log.error
    assert vm_count(vsphere) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"datastore": "no-such-ds"}, "datastore"),
        ({"datastore": 999999}, "datastore"),
        ({"disks": [{"type": "thick", "size": 60000}]}, "disks"),
        ({"disks": [{"type": "eagerZeroedThick", "size": 60000}]}, "disks"),
    ],
    ids=["unknown-name", "unknown-id", "thick-too-big", "eager-too-big"],
)
def test_create_vm_disk_problems_answer_2007_before_vcenter(api, body, vsphere, change, field):
    body.update(change)
    before = vm_count(vsphere)
    response, answer = create(api, body)
    assert response.status_code == 400
    assert answer["code"] == codes.VM_CREATE_DISK_FAILED.number
    assert field in answer["data"]["errors"]
    assert vm_count(vsphere) == before


def test_create_vm_thin_disk_may_exceed_free_space(api, body):
    """Thin disks take space as they fill, so only thick ones are checked against free space."""
    body["disks"] = [{"type": "thin", "size": 60000}]
    _response, answer = create(api, body)
    assert task_log_of(answer).code == codes.VM_CREATED.number


@pytest.mark.parametrize(
    "iso",
    [
        "ubuntu.iso",
        "[LocalDS_0] iso/missing.iso",
        "[LocalDS_0] no-folder/x.iso",
        "[NoSuchDS] iso/ubuntu-24.04.iso",
        "[LocalDS_0] ",
        999999,
    ],
    ids=["no-datastore", "missing-file", "missing-folder", "unknown-datastore", "no-path", "id"],
)
def test_create_vm_iso_problems_answer_2008_before_vcenter(api, body, vsphere, vcsim_fresh, iso):
    drop_iso(vcsim_fresh)
    body["iso"] = iso
    before = vm_count(vsphere)
    response, answer = create(api, body)
    assert response.status_code == 400
    assert answer["code"] == codes.VM_CREATE_ISO_FAILED.number
    assert "iso" in answer["data"]["errors"]
    assert vm_count(vsphere) == before


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (vim.fault.InvalidDeviceSpec(deviceIndex=1), codes.VM_CREATE_DISK_FAILED),
        (vim.fault.InvalidDeviceBacking(deviceIndex=3), codes.VM_CREATE_NETWORK_FAILED),
        (vim.fault.InvalidDeviceSpec(deviceIndex=4), codes.VM_CREATE_ISO_FAILED),
        (vim.fault.FileNotFound(file="[LocalDS_0] iso/gone.iso"), codes.VM_CREATE_ISO_FAILED),
        (vim.fault.NoDiskSpace(datastore="LocalDS_0"), codes.VM_CREATE_DISK_FAILED),
        (vim.fault.CannotCreateFile(file="[LocalDS_0] app/app.vmdk"), codes.VM_CREATE_DISK_FAILED),
        (vim.fault.InvalidVmConfig(property="numCPUs"), codes.VM_CREATE_TASK_FAILED),
    ],
    ids=["disk-index", "nic-index", "cdrom-index", "iso-file", "no-space", "vmdk", "other"],
)
def test_create_vm_task_faults_map_to_the_failing_device(api, body, vcsim_fresh, fault, code):
    """A real vCenter names the failing device by `deviceIndex` or file; vcsim raises none of
    these for a valid spec, so the CreateVM task's fault is fed to the waiter. Device order:
    SCSI controller, 2 disks, 1 NIC, CD-ROM."""
    body.update(disks=[{"type": "thin", "size": 1}] * 2, iso=drop_iso(vcsim_fresh))
    fault.msg = "refused by vCenter"
    error = VCenterTaskFault("refused by vCenter", type(fault).__name__, fault)
    with mock.patch.object(vc, "wait", side_effect=error):
        _response, answer = create(api, body)
    task_log = task_log_of(answer)
    assert task_log.status == "failure"
    assert task_log.code == code.number
    assert "refused by vCenter" in task_log.error


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cpu": "two"}, "cpu"),
        ({"cpu": 2.5}, "cpu"),
        ({"cpu": True}, "cpu"),
        ({"cpu": 0}, "cpu"),
        ({"cpu": -1}, "cpu"),
        ({"cpu": 10**12}, "cpu"),
        ({"memory_mb": "lots"}, "memory_mb"),
        ({"memory_mb": 1023}, "memory_mb"),
        ({"memory_mb": 0}, "memory_mb"),
        ({"memory_mb": 10**15}, "memory_mb"),
        # More than any host of the cluster has (vcsim: 2 logical CPUs, 4 GB), as a resize
        # would refuse; vcsim itself creates and powers on such a VM.
        ({"cpu": 4}, "cpu"),
        ({"memory_mb": 8192}, "memory_mb"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "/" * 30}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({"name": ".."}, "name"),
        ({"name": ["list"]}, "name"),
        ({"guest_id": "rm -rf"}, "guest_id"),
        ({"power_on": "perhaps"}, "power_on"),
        ({"nic_type": "token-ring"}, "nic_type"),
    ],
)
def test_create_vm_rejects_bad_fields_with_908(api, body, vsphere, change, field):
    body.update(change)
    before = vm_count(vsphere)
    response, answer = create(api, body)
    assert response.status_code == 400
    assert answer["code"] == codes.INVALID_INPUT.number
    assert field in answer["data"]["errors"]
    assert vm_count(vsphere) == before


@pytest.mark.parametrize("payload", [[], "text", 5], ids=["list", "string", "number"])
def test_create_vm_rejects_a_body_that_is_not_an_object(api, fresh_synced, payload):
    response = api.post("/api/vcenter/vms", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number


def test_create_vm_with_vcenter_gone_answers_502(api, body, vcsim_fresh):
    vcsim_fresh.stop()
    response, answer = create(api, body)
    assert response.status_code == 502
    assert answer["code"] == codes.VM_CREATE_TASK_FAILED.number
    assert "unreachable" in answer["data"]["detail"]
    assert not TaskLog.objects.filter(name="vcenter.create").exists()


def test_create_vm_requires_add_permission(body, anon_api):
    response = api_client_for(UserFactory()).post("/api/vcenter/vms", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == codes.PERMISSION_DENIED.number
    assert anon_api.post("/api/vcenter/vms", body, format="json").status_code == 401
