"""A VM's disks through `/api/vcenter/vms/{id}/disks/`, checked in vCenter (vcsim) afterwards."""

import os

import pytest
from django.contrib.auth.models import Permission
from pyVmomi import vim

from audit.models import EventLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import UserFactory
from vcenter import devices, services
from vcenter.client.inventory import retrieve_one
from vcenter.models import Datastore, VirtualMachine

pytestmark = [pytest.mark.django_db, pytest.mark.vcsim]

GB_KB = 1024 * 1024


@pytest.fixture
def vm(fresh_platform):
    """DC0_H0_VM0 of a freshly synced simulator: one ParaVirtual SCSI controller (bus 0) with a
    disk and a CD-ROM both at unit 0 (that is how vcsim builds its model VMs)."""
    services.start_sync(fresh_platform)
    return VirtualMachine.objects.get(platform=fresh_platform, name="DC0_H0_VM0")


def vc_devices(content, vm):
    ref = vim.VirtualMachine(vm.moid, content.propertyCollector._stub)
    return retrieve_one(content, ref, ["config.hardware.device"])["config.hardware.device"]


def vc_disks(content, vm):
    return [d for d in vc_devices(content, vm) if isinstance(d, vim.vm.device.VirtualDisk)]


def vc_controllers(content, vm):
    return sorted(
        (d for d in vc_devices(content, vm) if isinstance(d, vim.vm.device.VirtualSCSIController)),
        key=lambda c: c.busNumber,
    )


def units_on(content, vm, controller):
    return sorted(d.unitNumber for d in vc_disks(content, vm) if d.controllerKey == controller.key)


def datastore_file(content, file_name):
    """The local path of a `[ds] path` file of the simulator's datastore."""
    name, path = file_name[1:].split("] ", 1)
    ds = Datastore.objects.get(name=name)
    return os.path.join(ds.url, path)


def add(api, vm, disks, **extra):
    return api.post(f"/api/vcenter/vms/{vm.pk}/disks", {"disks": disks, **extra}, format="json")


# Listing


def test_list_disks_returns_what_vcenter_has(api, vm, vsphere, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api.get(f"/api/vcenter/vms/{vm.pk}/disks/")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.DISK_QUERY_OK.number
    [expected] = vc_disks(vsphere, vm)
    [disk] = body["data"]["results"]
    assert body["data"]["count"] == 1
    assert disk["key"] == expected.key
    assert disk["file_name"] == expected.backing.fileName
    assert disk["capacity_kb"] == expected.capacityInKB
    assert disk["datastore"] == "LocalDS_0"
    assert (disk["bus_number"], disk["unit_number"]) == (0, 0)
    assert disk["controller_type"] == "ParaVirtualSCSIController"
    assert disk["type"] in {"thin", "thick", "eagerZeroedThick"}


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": 99}])
def test_list_disks_answers_2131_for_bad_input(api, vm, query):
    response = api.get(f"/api/vcenter/vms/{vm.pk}/disks", query)
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_QUERY_BAD_PARAMS.number


@pytest.mark.parametrize("vm_id", ["abc", "0", "١٢", "1.5", "9" * 40])
def test_list_disks_answers_2131_for_a_malformed_vm_id(api, vm, vm_id):
    response = api.get(f"/api/vcenter/vms/{vm_id}/disks")
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_QUERY_BAD_PARAMS.number


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "disks"),
        ("post", "disks"),
        ("delete", "disks"),
        ("get", "disks/2000"),
        ("patch", "disks/2000"),
        ("delete", "disks/2000"),
    ],
)
def test_disk_routes_answer_2113_for_an_unknown_vm(api, vm, method, path):
    body = {"disks": [{"type": "thin", "size": 1}], "key": 2000, "size": 2}
    response = getattr(api, method)(f"/api/vcenter/vms/999999/{path}", body, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.DISK_VM_NOT_FOUND.number


def test_disk_routes_answer_2113_when_the_vm_vanished_from_vcenter(api, vm, vsphere):
    ref = vim.VirtualMachine(vm.moid, vsphere.propertyCollector._stub)
    ref.PowerOffVM_Task()
    ref.Destroy_Task()
    response = api.get(f"/api/vcenter/vms/{vm.pk}/disks")
    assert response.status_code == 404
    assert response.json()["code"] == codes.DISK_VM_NOT_FOUND.number
    assert not VirtualMachine.objects.filter(pk=vm.pk).exists()


# Adding


def test_add_seven_disks_takes_units_1_to_6_and_8(api, vm, vsphere):
    response = add(api, vm, [{"type": "thin", "size": 1}] * 7)
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == codes.DISK_ADDED.number
    assert [d["unit_number"] for d in body["data"]["disks"]] == [1, 2, 3, 4, 5, 6, 8]
    assert body["data"]["controllers"] == []

    # vCenter has them on the one controller, unit 7 left to the controller itself.
    [controller] = vc_controllers(vsphere, vm)
    assert units_on(vsphere, vm, controller) == [0, 1, 2, 3, 4, 5, 6, 8]
    new = [d for d in vc_disks(vsphere, vm) if d.unitNumber != 0]
    assert {d.capacityInKB for d in new} == {GB_KB}
    assert all(os.path.exists(datastore_file(vsphere, d.backing.fileName)) for d in new)


def test_add_disks_fills_the_controller_then_adds_one_of_the_same_type(api, vm, vsphere):
    # Units 1-6 and 8-15 fill the first controller.
    assert add(api, vm, [{"type": "thin", "size": 1}] * 14).status_code == 201
    [first] = vc_controllers(vsphere, vm)
    assert units_on(vsphere, vm, first) == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15]

    # The next disk needs a second controller: ParaVirtual like the first, on bus 1, unit 0.
    response = add(api, vm, [{"type": "thin", "size": 2}])
    assert response.status_code == 201
    data = response.json()["data"]
    assert [(d["bus_number"], d["unit_number"]) for d in data["disks"]] == [(1, 0)]
    assert [(c["bus_number"], c["type"]) for c in data["controllers"]] == [
        (1, "ParaVirtualSCSIController")
    ]
    first, second = vc_controllers(vsphere, vm)
    assert isinstance(second, vim.vm.device.ParaVirtualSCSIController)
    assert second.busNumber == 1
    assert units_on(vsphere, vm, second) == [0]


def test_add_disks_answers_2103_when_no_slot_is_left(api, vm, vsphere):
    # 14 free units on the first controller and 15 on each of three new ones: 59 in all.
    response = add(api, vm, [{"type": "thin", "size": 1}] * 60)
    assert response.status_code == 409
    assert response.json()["code"] == codes.DISK_NO_SLOT.number
    assert len(vc_disks(vsphere, vm)) == 1
    assert len(vc_controllers(vsphere, vm)) == 1

    assert add(api, vm, [{"type": "thin", "size": 1}] * 59).status_code == 201
    controllers = vc_controllers(vsphere, vm)
    assert [c.busNumber for c in controllers] == [0, 1, 2, 3]
    assert all(7 not in units_on(vsphere, vm, c) for c in controllers)
    assert len(vc_disks(vsphere, vm)) == 60

    response = add(api, vm, [{"type": "thin", "size": 1}])
    assert response.status_code == 409
    assert response.json()["code"] == codes.DISK_NO_SLOT.number
    assert len(vc_disks(vsphere, vm)) == 60


def test_add_disks_answers_2103_for_more_disks_than_any_vm_holds(api, vm, vsphere):
    response = add(api, vm, [{"type": "thin", "size": 1}] * 61)
    assert response.status_code == 409
    assert response.json()["code"] == codes.DISK_NO_SLOT.number
    assert len(vc_disks(vsphere, vm)) == 1


def test_add_disks_sets_each_provisioning_type(api, vm, vsphere):
    disks = [
        {"type": "thin", "size": 1},
        {"type": "thick", "size": 2},
        {"type": "eagerZeroedThick", "size": 3},
    ]
    response = add(api, vm, disks)
    assert [d["type"] for d in response.json()["data"]["disks"]] == [
        "thin",
        "thick",
        "eagerZeroedThick",
    ]
    by_size = {d.capacityInKB // GB_KB: d.backing for d in vc_disks(vsphere, vm)}
    assert by_size[1].thinProvisioned is True
    assert (by_size[2].thinProvisioned, by_size[2].eagerlyScrub) == (False, False)
    assert (by_size[3].thinProvisioned, by_size[3].eagerlyScrub) == (False, True)


@pytest.mark.parametrize("by", ["id", "name"])
def test_add_disks_on_a_chosen_datastore(api, vm, vsphere, by):
    datastore = Datastore.objects.get(platform=vm.platform, name="LocalDS_0")
    ref = datastore.pk if by == "id" else datastore.name
    response = add(api, vm, [{"type": "thin", "size": 1}], datastore=ref)
    assert response.status_code == 201
    [disk] = response.json()["data"]["disks"]
    assert disk["datastore"] == "LocalDS_0"
    added = next(d for d in vc_disks(vsphere, vm) if d.key == disk["key"])
    assert added.backing.fileName.startswith("[LocalDS_0] ")


@pytest.mark.parametrize("datastore", [None, "LocalDS_0"])
def test_add_thick_disks_larger_than_the_free_space_answers_2102(api, vm, vsphere, datastore):
    """vcsim never checks free space, so the portal does, from the last synced free space."""
    extra = {"datastore": datastore} if datastore else {}
    response = add(
        api, vm, [{"type": "thin", "size": 1}, {"type": "thick", "size": 60000}], **extra
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.DISK_BAD_PARAMS.number
    assert "LocalDS_0 has" in body["data"]["errors"]["disks"][0]
    assert len(vc_disks(vsphere, vm)) == 1
    # Thin disks take space as they fill: the same size is accepted.
    response = add(api, vm, [{"type": "thin", "size": 60000}], **extra)
    assert response.status_code == 201


def test_add_disks_writes_an_event_and_refreshes_the_vm(api, vm, vsphere):
    before = VirtualMachine.objects.get(pk=vm.pk).synced_at
    add(api, vm, [{"type": "thin", "size": 1}])
    event = EventLog.objects.get(action="disks_added")
    assert event.object_id == str(vm.pk)
    assert event.username == "admin"
    assert event.after["disks"][0]["unit_number"] == 1
    assert VirtualMachine.objects.get(pk=vm.pk).synced_at > before


@pytest.mark.parametrize("body", [{}, {"disks": None}, {"disks": []}, {"disks": ""}])
def test_add_disks_answers_2101_without_disks(api, vm, vsphere, body):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/disks", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_MISSING_DISKS.number
    assert len(vc_disks(vsphere, vm)) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"disks": {"type": "thin", "size": 1}},
        {"disks": "thin"},
        {"disks": [["thin", 1]]},
        {"disks": [{"size": 1}]},
        {"disks": [{"type": "thin"}]},
        {"disks": [{"type": "sparse", "size": 1}]},
        {"disks": [{"type": "精简", "size": 1}]},
        {"disks": [{"type": "thin", "size": 0}]},
        {"disks": [{"type": "thin", "size": -5}]},
        {"disks": [{"type": "thin", "size": "big"}]},
        {"disks": [{"type": "thin", "size": True}]},
        {"disks": [{"type": "thin", "size": 1.5}]},
        {"disks": [{"type": "thin", "size": 10**30}]},
        {"disks": [{"type": "thin", "size": 1}, None]},
        {"disks": [{"type": "thin", "size": 1}], "datastore": "NoSuchDS"},
        {"disks": [{"type": "thin", "size": 1}], "datastore": 999999},
        {"disks": [{"type": "thin", "size": 1}], "datastore": 10**30},
        {"disks": [{"type": "thin", "size": 1}], "datastore": ["LocalDS_0"]},
        {"disks": [{"type": "thin", "size": 1}], "datastore": "Local\x00DS"},
    ],
)
def test_add_disks_answers_2102_for_a_malformed_list(api, vm, vsphere, extra):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/disks", extra, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.DISK_BAD_PARAMS.number
    assert body["data"]["errors"]
    assert len(vc_disks(vsphere, vm)) == 1


def test_add_disks_answers_2102_for_a_json_array_body(api, vm):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/disks", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_BAD_PARAMS.number


def test_add_disks_to_a_template_answers_2102_with_vcenters_fault(api, vm, vsphere):
    """vCenter (and vcsim) refuse device changes on a template with NotSupported."""
    ref = vim.VirtualMachine(vm.moid, vsphere.propertyCollector._stub)
    ref.PowerOffVM_Task()
    ref.MarkAsTemplate()
    response = add(api, vm, [{"type": "thin", "size": 1}])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.DISK_BAD_PARAMS.number
    assert body["data"]["fault"] == "vmodl.fault.NotSupported"
    assert len(vc_disks(vsphere, vm)) == 1


def test_add_disks_answers_920_when_vcenter_is_down(api, vm, vcsim_fresh):
    vcsim_fresh.stop()
    response = add(api, vm, [{"type": "thin", "size": 1}])
    assert response.status_code == 502
    assert response.json()["code"] == codes.VCENTER_UNREACHABLE.number


# Planning, without vCenter


def test_plan_disk_slots_keeps_the_controller_type_and_skips_unit_7():
    full = [u for u in range(16) if u != 7]
    controllers = [
        {"key": 1000, "bus_number": 0, "type": "VirtualLsiLogicSASController", "used_units": full}
    ]
    new, slots = devices.plan_disk_slots(controllers, 9)
    assert new == [{"ref": "new-scsi-1", "bus_number": 1, "type": "VirtualLsiLogicSASController"}]
    assert [unit for _ref, unit in slots] == [0, 1, 2, 3, 4, 5, 6, 8, 9]


def test_plan_disk_slots_adds_a_paravirtual_controller_to_a_vm_without_one():
    new, slots = devices.plan_disk_slots([], 1)
    assert new == [{"ref": "new-scsi-0", "bus_number": 0, "type": "ParaVirtualSCSIController"}]
    assert slots == [("new-scsi-0", 0)]


# Deleting


def test_delete_disk_by_key_destroys_its_file(api, vm, vsphere):
    added = add(api, vm, [{"type": "thin", "size": 1}]).json()["data"]["disks"][0]
    path = datastore_file(vsphere, added["file_name"])
    assert os.path.exists(path)

    response = api.delete(f"/api/vcenter/vms/{vm.pk}/disks/{added['key']}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.DISK_DELETED.number
    assert body["data"]["key"] == added["key"]
    assert added["key"] not in {d.key for d in vc_disks(vsphere, vm)}
    assert not os.path.exists(path)
    assert EventLog.objects.filter(action="disk_removed", object_id=str(vm.pk)).exists()


def test_delete_disk_by_label_in_the_path_or_the_body(api, vm, vsphere):
    first, second = add(api, vm, [{"type": "thin", "size": 1}] * 2).json()["data"]["disks"]
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/disks/{first['label']}/")
    assert response.json()["code"] == codes.DISK_DELETED.number
    response = api.delete(
        f"/api/vcenter/vms/{vm.pk}/disks", {"label": second["label"]}, format="json"
    )
    assert response.json()["code"] == codes.DISK_DELETED.number
    assert len(vc_disks(vsphere, vm)) == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"key": "abc"}, {"key": True}, {"key": 1, "label": "x"}, {"label": ""}, {"key": 2**40}],
)
def test_delete_disk_answers_2111_for_bad_input(api, vm, vsphere, body):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/disks", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_DELETE_BAD_PARAMS.number
    assert len(vc_disks(vsphere, vm)) == 1


def test_delete_disk_answers_2111_for_a_malformed_vm_id_or_identifier(api, vm):
    response = api.delete("/api/vcenter/vms/abc/disks/2000")
    assert response.json()["code"] == codes.DISK_DELETE_BAD_PARAMS.number
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/disks/{'9' * 30}")
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_DELETE_BAD_PARAMS.number


@pytest.mark.parametrize("ident", ["424242", "no such disk", "硬盘 9"])
def test_delete_disk_answers_2112_for_an_unknown_disk(api, vm, vsphere, ident):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/disks/{ident}")
    assert response.status_code == 404
    assert response.json()["code"] == codes.DISK_NOT_FOUND.number
    assert len(vc_disks(vsphere, vm)) == 1


# Growing


def test_grow_disk_to_a_larger_size(api, vm, vsphere):
    added = add(api, vm, [{"type": "thin", "size": 1}]).json()["data"]["disks"][0]
    response = api.patch(
        f"/api/vcenter/vms/{vm.pk}/disks/{added['key']}", {"size": 5}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["code"] == codes.OK.number
    assert response.json()["data"]["size_gb"] == 5
    grown = next(d for d in vc_disks(vsphere, vm) if d.key == added["key"])
    assert grown.capacityInKB == 5 * GB_KB


@pytest.mark.parametrize("size", [1, 0, "abc", None])
def test_grow_disk_never_shrinks(api, vm, vsphere, size):
    """vcsim would accept a smaller capacity; the portal refuses it before vCenter sees it."""
    added = add(api, vm, [{"type": "thin", "size": 1}]).json()["data"]["disks"][0]
    response = api.patch(
        f"/api/vcenter/vms/{vm.pk}/disks/{added['key']}", {"size": size}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == codes.DISK_BAD_PARAMS.number
    kept = next(d for d in vc_disks(vsphere, vm) if d.key == added["key"])
    assert kept.capacityInKB == GB_KB


def test_grow_disk_answers_2112_for_an_unknown_disk(api, vm):
    response = api.patch(f"/api/vcenter/vms/{vm.pk}/disks/424242", {"size": 9}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.DISK_NOT_FOUND.number


def test_get_one_disk_by_key(api, vm, vsphere):
    [expected] = vc_disks(vsphere, vm)
    response = api.get(f"/api/vcenter/vms/{vm.pk}/disks/{expected.key}")
    assert response.json()["code"] == codes.DISK_QUERY_OK.number
    assert response.json()["data"]["label"] == expected.deviceInfo.label


# Permissions


@pytest.mark.parametrize("resource", ["disks", "networks", "snapshots"])
def test_device_routes_need_sign_in(anon_api, vm, resource):
    response = anon_api.get(f"/api/vcenter/vms/{vm.pk}/{resource}")
    assert response.status_code == 401
    assert response.json()["code"] == codes.NOT_AUTHENTICATED.number
    response = anon_api.post(f"/api/vcenter/vms/{vm.pk}/{resource}", {}, format="json")
    assert response.status_code == 401


def test_disk_changes_need_the_disk_permission(vm, vsphere):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_virtualmachine"))
    client = api_client_for(user)
    assert client.get(f"/api/vcenter/vms/{vm.pk}/disks").status_code == 200
    response = add(client, vm, [{"type": "thin", "size": 1}])
    assert response.status_code == 403
    assert response.json()["code"] == codes.PERMISSION_DENIED.number
    assert client.delete(f"/api/vcenter/vms/{vm.pk}/disks/1").status_code == 403
    assert len(vc_disks(vsphere, vm)) == 1

    user.user_permissions.add(Permission.objects.get(codename="disk_virtualmachine"))
    client = api_client_for(type(user).objects.get(pk=user.pk))
    assert add(client, vm, [{"type": "thin", "size": 1}]).status_code == 201
    assert len(vc_disks(vsphere, vm)) == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("post", "disks", {"disks": [{"type": "thin", "size": 1}]}, codes.DISK_BAD_PARAMS),
        ("patch", "disks/{disk}", {"size": 40}, codes.DISK_BAD_PARAMS),
        ("delete", "disks/{disk}", None, codes.DISK_DELETE_BAD_PARAMS),
        ("post", "networks", {"network": "VM Network"}, codes.NIC_BAD_PARAMS),
        ("post", "snapshots", {"action": "create", "snapshot_name": "s"}, codes.CONFLICT),
    ],
    ids=["add-disk", "grow-disk", "remove-disk", "add-nic", "snapshot"],
)
def test_template_hardware_changes_are_refused_with_a_reason(
    api, vm, vsphere, method, path, body, code
):
    """vCenter answers a template's reconfiguration with a bare NotSupported; the portal says
    it is a template, and vCenter is not asked."""
    ref = vim.VirtualMachine(vm.moid, vsphere.propertyCollector._stub)
    ref.PowerOffVM_Task()
    ref.MarkAsTemplate()
    services.start_sync(vm.platform)
    vm.refresh_from_db()
    assert vm.is_template
    devices_before = vc_devices(vsphere, vm)
    [disk] = [d for d in devices_before if isinstance(d, vim.vm.device.VirtualDisk)]

    url = f"/api/vcenter/vms/{vm.pk}/{path.format(disk=disk.key)}"
    response = getattr(api, method)(url, body, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == code.number
    assert "is a template" in response.json()["data"]["detail"]
    assert len(vc_devices(vsphere, vm)) == len(devices_before)
