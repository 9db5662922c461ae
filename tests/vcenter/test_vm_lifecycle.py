"""Delete (2010/2011), resize (2020-2022) and query (2030/2031) against the simulator."""

from unittest import mock

import pytest
from pyVmomi import vim

from audit.models import EventLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for, assert_vm_matches_vsphere
from tests.factories import UserFactory
from vcenter.client import vms as vc
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def vsphere_vm(content, vm):
    return vim.VirtualMachine(vm.moid, content.propertyCollector._stub)


def vm_exists(content, moid):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return any(vm._moId == moid for vm in view.view)
    finally:
        view.Destroy()


def run(task):
    assert task.info.state == "success", task.info.error
    return task


@pytest.fixture
def vm(fresh_synced):
    """DC0_H0_VM0: powered on, 1 CPU, 32 MB, on standalone host DC0_H0 (2 CPU threads, 4 GB)."""
    return VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM0")


@pytest.fixture
def off_vm(vm, vsphere):
    run(vsphere_vm(vsphere, vm).PowerOffVM_Task())
    return vm


# Delete


@pytest.mark.parametrize("force", ["", "?force=true"], ids=["plain", "force"])
def test_delete_powered_off_vm_removes_it_from_vcenter_and_mirror(api, off_vm, vsphere, force):
    response = api.delete(f"/api/vcenter/vms/{off_vm.pk}{force}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.VM_DELETED.number
    assert body["data"]["changed"] is True
    assert body["data"]["powered_off"] is False  # it was off already, force or not
    assert not vm_exists(vsphere, off_vm.moid)
    assert not VirtualMachine.objects.filter(pk=off_vm.pk).exists()
    event = EventLog.objects.get(action="delete")
    assert event.object_id == str(off_vm.pk)
    assert event.before["name"] == "DC0_H0_VM0"


def test_delete_powered_on_vm_is_refused_without_force(api, vm, vsphere):
    with mock.patch.object(vc, "start_destroy") as start_destroy:
        response = api.delete(f"/api/vcenter/vms/{vm.pk}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.VM_DELETE_FAILED.number
    assert "powered on" in body["data"]["detail"]
    assert "force=true" in body["data"]["detail"]
    start_destroy.assert_not_called()
    assert vsphere_vm(vsphere, vm).runtime.powerState == "poweredOn"
    assert VirtualMachine.objects.filter(pk=vm.pk).exists()


@pytest.mark.parametrize("how", ["query", "body"])
def test_delete_powered_on_vm_with_force_powers_off_first(api, vm, vsphere, how):
    if how == "query":
        response = api.delete(f"/api/vcenter/vms/{vm.pk}?force=true")
    else:
        response = api.delete(f"/api/vcenter/vms/{vm.pk}", {"force": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["code"] == codes.VM_DELETED.number
    assert response.json()["data"]["powered_off"] is True
    assert not vm_exists(vsphere, vm.moid)
    assert not VirtualMachine.objects.filter(pk=vm.pk).exists()


def test_delete_vm_already_gone_from_vcenter_cleans_the_mirror(api, off_vm, vsphere):
    run(vsphere_vm(vsphere, off_vm).Destroy_Task())
    body = api.delete(f"/api/vcenter/vms/{off_vm.pk}").json()
    assert body["code"] == codes.VM_DELETED.number
    assert body["data"]["changed"] is False
    assert not VirtualMachine.objects.filter(pk=off_vm.pk).exists()


def test_delete_unknown_vm_answers_2011(api, fresh_synced):
    response = api.delete("/api/vcenter/vms/999999")
    assert response.status_code == 404
    assert response.json()["code"] == codes.VM_DELETE_FAILED.number


def test_delete_with_bad_force_answers_2011(api, vm):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}?force=perhaps")
    assert response.status_code == 400
    assert response.json()["code"] == codes.VM_DELETE_FAILED.number
    assert "force" in response.json()["data"]["errors"]


def test_delete_with_vcenter_gone_answers_502_and_keeps_the_row(api, off_vm, vcsim_fresh):
    vcsim_fresh.stop()
    response = api.delete(f"/api/vcenter/vms/{off_vm.pk}")
    assert response.status_code == 502
    assert response.json()["code"] == codes.VM_DELETE_FAILED.number
    assert VirtualMachine.objects.filter(pk=off_vm.pk).exists()


def test_delete_requires_delete_permission(vm):
    response = api_client_for(UserFactory()).delete(f"/api/vcenter/vms/{vm.pk}")
    assert response.status_code == 403


# Resize


def resize(api, vm, **data):
    return api.patch(f"/api/vcenter/vms/{vm.pk}", data, format="json")


def test_resize_powered_off_vm_matches_vsphere(api, off_vm, vsphere):
    response = resize(api, off_vm, cpu=2, memory_mb=1024)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["code"] == codes.VM_UPDATED.number
    assert body["data"]["vm"]["num_cpu"] == 2
    assert body["data"]["vm"]["memory_mb"] == 1024
    assert vsphere_vm(vsphere, off_vm).config.hardware.numCPU == 2
    assert vsphere_vm(vsphere, off_vm).config.hardware.memoryMB == 1024
    assert_vm_matches_vsphere(body["data"]["vm"], vsphere)
    event = EventLog.objects.get(action="resize")
    assert event.before == {"num_cpu": 1, "memory_mb": 32}
    assert event.after == {"num_cpu": 2, "memory_mb": 1024}


def test_resize_to_the_same_size_changes_nothing(api, off_vm):
    with mock.patch.object(vc, "start_reconfigure") as start_reconfigure:
        body = resize(api, off_vm, cpu=1, memory_mb=32).json()
    assert body["code"] == codes.VM_UPDATED.number
    assert body["data"]["changed"] is False
    start_reconfigure.assert_not_called()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"cpu": 2}, codes.VM_CPU_UPDATE_FAILED),
        ({"memory_mb": 64}, codes.VM_MEMORY_UPDATE_FAILED),
        ({"cpu": 2, "memory_mb": 64}, codes.VM_CPU_UPDATE_FAILED),
    ],
    ids=["cpu", "memory", "both"],
)
def test_resize_powered_on_vm_without_hot_add_is_refused_before_vcenter(
    api, vm, vsphere, data, code
):
    """vcsim does not check hot-add rules; a real vCenter does, so the portal refuses first."""
    with mock.patch.object(vc, "start_reconfigure") as start_reconfigure:
        response = resize(api, vm, **data)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == code.number
    assert "hot-add is disabled" in body["data"]["detail"]
    start_reconfigure.assert_not_called()
    assert vsphere_vm(vsphere, vm).config.hardware.numCPU == 1
    assert vsphere_vm(vsphere, vm).config.hardware.memoryMB == 32


def test_resize_powered_on_vm_with_hot_add_grows_but_never_shrinks(api, off_vm, vsphere):
    vm = vsphere_vm(vsphere, off_vm)
    spec = vim.vm.ConfigSpec(cpuHotAddEnabled=True, memoryHotAddEnabled=True, memoryMB=64)
    run(vm.ReconfigVM_Task(spec))
    run(vm.PowerOnVM_Task())

    body = resize(api, off_vm, cpu=2, memory_mb=128).json()
    assert body["code"] == codes.VM_UPDATED.number
    assert (vm.config.hardware.numCPU, vm.config.hardware.memoryMB) == (2, 128)
    assert_vm_matches_vsphere(body["data"]["vm"], vsphere)

    shrink_cpu = resize(api, off_vm, cpu=1).json()
    assert shrink_cpu["code"] == codes.VM_CPU_UPDATE_FAILED.number
    assert "hot-remove" in shrink_cpu["data"]["detail"]
    shrink_memory = resize(api, off_vm, memory_mb=64).json()
    assert shrink_memory["code"] == codes.VM_MEMORY_UPDATE_FAILED.number
    assert "cannot be reduced" in shrink_memory["data"]["detail"]
    assert (vm.config.hardware.numCPU, vm.config.hardware.memoryMB) == (2, 128)


@pytest.mark.parametrize(
    ("memory_mb", "reason"),
    [(2048, "hot-add limit of 1024 MB"), (100, "steps of 64 MB")],
    ids=["over-limit", "off-step"],
)
def test_resize_powered_on_vm_respects_hot_add_limit_and_step(
    api, off_vm, vsphere, memory_mb, reason
):
    """vcsim leaves `hotPlugMemoryLimit` and `hotPlugMemoryIncrementSize` unset and they are
    read-only in a ConfigSpec, so the real live read is wrapped to report a limit and a step as
    a real vCenter would."""
    vm = vsphere_vm(vsphere, off_vm)
    run(vm.ReconfigVM_Task(vim.vm.ConfigSpec(memoryHotAddEnabled=True, memoryMB=64)))
    run(vm.PowerOnVM_Task())
    real_read = vc.read_state

    def read_with_limits(content, moid):
        state = real_read(content, moid)
        return {**state, "memory_hot_add_limit_mb": 1024, "memory_hot_add_increment_mb": 64}

    with mock.patch.object(vc, "read_state", read_with_limits):
        refused_body = resize(api, off_vm, memory_mb=memory_mb).json()
        allowed_body = resize(api, off_vm, memory_mb=256).json()
    assert refused_body["code"] == codes.VM_MEMORY_UPDATE_FAILED.number
    assert reason in refused_body["data"]["detail"]
    assert allowed_body["code"] == codes.VM_UPDATED.number
    assert vm.config.hardware.memoryMB == 256


@pytest.mark.parametrize(
    ("data", "code", "reason"),
    [
        ({"cpu": 4}, codes.VM_CPU_UPDATE_FAILED, "2 logical CPUs"),
        ({"memory_mb": 8192}, codes.VM_MEMORY_UPDATE_FAILED, "MB of the VM's host"),
    ],
    ids=["cpu", "memory"],
)
def test_resize_beyond_the_host_is_refused(api, off_vm, vsphere, data, code, reason):
    response = resize(api, off_vm, **data)
    assert response.status_code == 400
    assert response.json()["code"] == code.number
    assert reason in response.json()["data"]["detail"]
    assert vsphere_vm(vsphere, off_vm).config.hardware.numCPU == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [({"cpu": 2}, codes.VM_CPU_UPDATE_FAILED), ({"memory_mb": 64}, codes.VM_MEMORY_UPDATE_FAILED)],
    ids=["cpu", "memory"],
)
def test_resize_template_is_refused_before_vcenter(api, off_vm, vsphere, data, code):
    """vCenter refuses to reconfigure a template with a bare NotSupported; the portal, which
    reads the VM live first, says why."""
    vsphere_vm(vsphere, off_vm).MarkAsTemplate()
    with mock.patch.object(vc, "start_reconfigure") as start_reconfigure:
        response = resize(api, off_vm, **data)
    assert response.status_code == 409
    assert response.json()["code"] == code.number
    assert "is a template" in response.json()["data"]["detail"]
    start_reconfigure.assert_not_called()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"cpu": "two"}, codes.VM_CPU_UPDATE_FAILED),
        ({"cpu": 2.5}, codes.VM_CPU_UPDATE_FAILED),
        ({"cpu": True}, codes.VM_CPU_UPDATE_FAILED),
        ({"cpu": 0}, codes.VM_CPU_UPDATE_FAILED),
        ({"cpu": -2}, codes.VM_CPU_UPDATE_FAILED),
        ({"cpu": 10**20}, codes.VM_CPU_UPDATE_FAILED),
        ({"cpu": None}, codes.VM_CPU_UPDATE_FAILED),
        ({"memory_mb": "big"}, codes.VM_MEMORY_UPDATE_FAILED),
        ({"memory_mb": 1023}, codes.VM_MEMORY_UPDATE_FAILED),
        ({"memory_mb": -4}, codes.VM_MEMORY_UPDATE_FAILED),
        ({"memory_mb": [64]}, codes.VM_MEMORY_UPDATE_FAILED),
        ({}, codes.INVALID_INPUT),
        ({"name": "rename"}, codes.INVALID_INPUT),
    ],
)
def test_resize_rejects_bad_values(api, off_vm, vsphere, data, code):
    response = resize(api, off_vm, **data)
    assert response.status_code == 400
    assert response.json()["code"] == code.number
    assert vsphere_vm(vsphere, off_vm).config.hardware.numCPU == 1


def test_resize_unknown_vm_and_put_are_refused(api, fresh_synced, vm):
    missing = api.patch("/api/vcenter/vms/999999", {"memory_mb": 64}, format="json")
    assert missing.status_code == 404
    assert missing.json()["code"] == codes.VM_MEMORY_UPDATE_FAILED.number
    put = api.put(f"/api/vcenter/vms/{vm.pk}", {"cpu": 2}, format="json")
    assert put.status_code == 405
    assert put.json()["code"] == codes.METHOD_NOT_ALLOWED.number


def test_resize_requires_change_permission(vm):
    response = api_client_for(UserFactory()).patch(
        f"/api/vcenter/vms/{vm.pk}", {"cpu": 2}, format="json"
    )
    assert response.status_code == 403


# Query


def test_get_vm_with_refresh_reads_it_live(api, vm, vsphere):
    live = vsphere_vm(vsphere, vm)
    run(live.PowerOffVM_Task())
    run(live.ReconfigVM_Task(vim.vm.ConfigSpec(numCPUs=2, memoryMB=256)))

    stale = api.get(f"/api/vcenter/vms/{vm.pk}").json()
    assert stale["code"] == codes.VM_QUERY_OK.number
    assert (stale["data"]["power_state"], stale["data"]["num_cpu"]) == ("poweredOn", 1)

    fresh = api.get(f"/api/vcenter/vms/{vm.pk}", {"refresh": "true"}).json()
    assert fresh["code"] == codes.VM_QUERY_OK.number
    assert (fresh["data"]["power_state"], fresh["data"]["num_cpu"]) == ("poweredOff", 2)
    assert_vm_matches_vsphere(fresh["data"], vsphere)
    assert VirtualMachine.objects.get(pk=vm.pk).memory_mb == 256


def test_get_vm_with_refresh_when_vcenter_lost_it_answers_2031(api, off_vm, vsphere):
    run(vsphere_vm(vsphere, off_vm).Destroy_Task())
    response = api.get(f"/api/vcenter/vms/{off_vm.pk}?refresh=true")
    assert response.status_code == 404
    assert response.json()["code"] == codes.VM_QUERY_FAILED.number
    assert "no longer has this VM" in response.json()["data"]["detail"]
    assert not VirtualMachine.objects.filter(pk=off_vm.pk).exists()


def test_get_vm_with_refresh_and_vcenter_gone_answers_502(api, vm, vcsim_fresh):
    vcsim_fresh.stop()
    response = api.get(f"/api/vcenter/vms/{vm.pk}?refresh=1")
    assert response.status_code == 502
    assert response.json()["code"] == codes.VM_QUERY_FAILED.number
    # Without refresh the mirror still answers.
    assert api.get(f"/api/vcenter/vms/{vm.pk}").json()["code"] == codes.VM_QUERY_OK.number


@pytest.mark.parametrize("path", ["/api/vcenter/vms/999999", "/api/vcenter/vms/abc"])
def test_get_unknown_vm_answers_2031(api, fresh_synced, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == codes.VM_QUERY_FAILED.number


def test_get_vm_with_bad_refresh_flag_answers_2031(api, vm):
    response = api.get(f"/api/vcenter/vms/{vm.pk}?refresh=maybe")
    assert response.status_code == 400
    assert response.json()["code"] == codes.VM_QUERY_FAILED.number


def test_vm_list_filters_by_placement_and_guest(api, fresh_synced, django_assert_max_num_queries):
    standalone = VirtualMachine.objects.get(name="DC0_H0_VM0")
    filters = {
        "host": (standalone.host_id, 2),
        "resource_pool": (standalone.resource_pool_id, 2),
        "folder": (standalone.folder_id, 4),
        "datastore": (standalone.datastores.get().pk, 4),
        "network": (standalone.networks.get().pk, 4),
        "guest_id": ("otherGuest", 4),
        "power_state": ("poweredOn", 4),
    }
    for name, (value, expected) in filters.items():
        with django_assert_max_num_queries(8):
            body = api.get("/api/vcenter/vms", {name: value}).json()
        assert body["code"] == codes.VM_QUERY_OK.number
        assert body["data"]["count"] == expected, name
    bad = api.get("/api/vcenter/vms", {"host": "abc"})
    assert bad.status_code == 400
    assert bad.json()["code"] == codes.VM_QUERY_FAILED.number
