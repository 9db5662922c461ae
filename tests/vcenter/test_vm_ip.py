"""IP assignment through guest customization on the simulator: POST vms/{id}/ip (2070-2073)."""

from unittest import mock

import pytest
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for, assert_vm_matches_vsphere
from tests.factories import UserFactory
from vcenter.client import vms as vc
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db

SETTINGS = {
    "hostname": "web01",
    "ip": "10.20.30.40",
    "netmask": "255.255.255.0",
    "gateway": "10.20.30.1",
    "dns": ["10.20.30.2", "1.1.1.1"],
    "domain": "example.test",
}


def vsphere_vm(content, vm):
    return vim.VirtualMachine(vm.moid, content.propertyCollector._stub)


def run(task):
    assert task.info.state == "success", task.info.error
    return task


def assign(api, vm, **data):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/ip", {**SETTINGS, **data}, format="json")
    return response, response.json()


def task_log_of(body):
    return TaskLog.objects.get(pk=body["data"]["task_id"])


@pytest.fixture
def vm(fresh_synced):
    """DC0_H0_VM0, powered on, one E1000 NIC."""
    return VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM0")


@pytest.fixture
def off_vm(vm, vsphere):
    run(vsphere_vm(vsphere, vm).PowerOffVM_Task())
    return vm


def test_assign_ip_applies_at_next_power_on_and_matches_vsphere(api, off_vm, vsphere):
    response, body = assign(api, off_vm)
    assert response.status_code == 202
    assert body["code"] == codes.TASK_ACCEPTED.number
    task_log = task_log_of(body)
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.VM_IP_ASSIGNED.number
    assert task_log.vcenter_task.startswith("task-")
    assert task_log.result["family"] == "linux"
    assert task_log.result["ip"] == "10.20.30.40"
    assert EventLog.objects.get(action="customize").after["hostname"] == "web01"

    # vCenter applies the settings when the VM next powers on.
    on = api.post(f"/api/vcenter/vms/{off_vm.pk}/power", {"action": "on"}, format="json").json()
    assert on["code"] == codes.VM_POWERED_ON.number
    live = vsphere_vm(vsphere, off_vm)
    assert live.guest.ipAddress == "10.20.30.40"
    assert live.guest.hostName == "web01"
    detail = api.get(f"/api/vcenter/vms/{off_vm.pk}", {"refresh": "true"}).json()["data"]
    assert detail["ip_address"] == "10.20.30.40"
    assert detail["hostname"] == "web01"
    assert_vm_matches_vsphere(detail, vsphere)


def test_assign_ip_uses_sysprep_for_windows_guests(api, off_vm, vsphere):
    live = vsphere_vm(vsphere, off_vm)
    run(live.ReconfigVM_Task(vim.vm.ConfigSpec(guestId="windows9_64Guest")))
    real_start = vc.start_customize
    specs = []

    def spy(content, moid, plan):
        specs.append(vc.customization_spec(plan, 1))
        return real_start(content, moid, plan)

    with mock.patch.object(vc, "start_customize", spy):
        _response, body = assign(api, off_vm, hostname="WIN-APP01", netmask="24")
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_IP_ASSIGNED.number, task_log.error
    assert task_log.result["family"] == "windows"
    assert isinstance(specs[0].identity, vim.vm.customization.Sysprep)
    run(live.PowerOnVM_Task())
    assert live.guest.hostName == "WIN-APP01"
    assert live.guest.ipAddress == "10.20.30.40"


def test_assign_ip_to_powered_on_vm_is_refused_before_vcenter(api, vm, vsphere):
    with mock.patch.object(vc, "start_customize") as start_customize:
        response, body = assign(api, vm)
    assert response.status_code == 409
    assert body["code"] == codes.VM_IP_POWERED_ON.number
    start_customize.assert_not_called()
    assert not TaskLog.objects.filter(name="vcenter.ip").exists()


def test_assign_ip_twice_before_power_on_fails_with_vcenters_fault(api, off_vm):
    """vCenter refuses a second customization while one is pending (CustomizationPending)."""
    assert task_log_of(assign(api, off_vm)[1]).code == codes.VM_IP_ASSIGNED.number
    _response, body = assign(api, off_vm, ip="10.20.30.41")
    task_log = task_log_of(body)
    assert task_log.status == "failure"
    assert task_log.code == codes.VM_IP_VMODL_ERROR.number
    assert "CustomizationPending" in task_log.error


def test_assign_ip_fails_with_2073_when_vcenter_goes_away(api, off_vm, vcsim_fresh):
    """The simulator stops after the request was accepted (the patch only sets the moment):
    a transport failure is not a vmodl fault, so the TaskLog ends 2073."""
    real_start = vc.start_customize

    def stop_then_customize(content, moid, plan):
        vcsim_fresh.stop()
        return real_start(content, moid, plan)

    with mock.patch.object(vc, "start_customize", stop_then_customize):
        _response, body = assign(api, off_vm)
    task_log = task_log_of(body)
    assert task_log.status == "failure"
    assert task_log.code == codes.VM_IP_FAILED.number
    assert "unreachable" in task_log.error


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"ip": "300.1.1.1"}, "ip"),
        ({"ip": "abc"}, "ip"),
        ({"ip": ""}, "ip"),
        ({"ip": "10.20.30.0"}, "ip"),
        ({"ip": "10.20.30.255"}, "ip"),
        ({"ip": "127.0.0.1", "gateway": ""}, "ip"),
        ({"ip": "fe80::1"}, "ip"),
        ({"ip": 10}, "ip"),
        ({"netmask": "255.0.255.0"}, "netmask"),
        ({"netmask": "33"}, "netmask"),
        ({"netmask": ""}, "netmask"),
        ({"gateway": "192.168.1.1"}, "gateway"),
        ({"gateway": "10.20.30.40"}, "gateway"),
        ({"gateway": "gw"}, "gateway"),
        ({"dns": ["8.8.8.8", "dns.example"]}, "dns"),
        ({"dns": "8.8.8.8"}, "dns"),
        ({"dns": ["1.1.1.1"] * 4}, "dns"),
        ({"hostname": "-bad"}, "hostname"),
        ({"hostname": "under_score"}, "hostname"),
        ({"hostname": "主机"}, "hostname"),
        ({"hostname": "x" * 64}, "hostname"),
        ({"domain": "bad..domain"}, "domain"),
        ({"nic": 5}, "nic"),
        ({"nic": "first"}, "nic"),
        ({"nic": -1}, "nic"),
    ],
)
def test_assign_ip_rejects_bad_settings_with_2073(api, off_vm, data, field):
    with mock.patch.object(vc, "start_customize") as start_customize:
        response, body = assign(api, off_vm, **data)
    assert response.status_code == 400
    assert body["code"] == codes.VM_IP_FAILED.number
    assert field in body["data"]["errors"]
    start_customize.assert_not_called()


def test_assign_ip_missing_fields_and_non_object_body(api, off_vm):
    response = api.post(f"/api/vcenter/vms/{off_vm.pk}/ip", {"ip": "10.0.0.5"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.VM_IP_FAILED.number
    assert {"hostname", "netmask"} <= set(response.json()["data"]["errors"])
    listed = api.post(f"/api/vcenter/vms/{off_vm.pk}/ip", ["10.0.0.5"], format="json")
    assert listed.status_code == 400
    assert listed.json()["code"] == codes.VM_IP_FAILED.number


def test_assign_ip_windows_name_longer_than_15_is_refused(api, off_vm, vsphere):
    run(vsphere_vm(vsphere, off_vm).ReconfigVM_Task(vim.vm.ConfigSpec(guestId="windows9Guest")))
    response, body = assign(api, off_vm, hostname="a-very-long-windows-name")
    assert response.status_code == 400
    assert body["code"] == codes.VM_IP_FAILED.number
    assert "15 characters" in body["data"]["errors"]["hostname"][0]


def test_assign_ip_to_vm_without_nic_is_refused(api, off_vm, vsphere):
    live = vsphere_vm(vsphere, off_vm)
    nic = next(d for d in live.config.hardware.device if isinstance(d, vim.vm.device.VirtualE1000))
    change = vim.vm.device.VirtualDeviceSpec(operation="remove", device=nic)
    run(live.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[change])))
    response, body = assign(api, off_vm)
    assert response.status_code == 409
    assert body["code"] == codes.VM_IP_FAILED.number
    assert "no network adapter" in body["data"]["detail"]


def test_assign_ip_unknown_vm_and_permission(api, off_vm):
    missing = api.post("/api/vcenter/vms/999999/ip", SETTINGS, format="json")
    assert missing.status_code == 404
    assert missing.json()["code"] == codes.VM_IP_FAILED.number
    denied = api_client_for(UserFactory()).post(
        f"/api/vcenter/vms/{off_vm.pk}/ip", SETTINGS, format="json"
    )
    assert denied.status_code == 403
