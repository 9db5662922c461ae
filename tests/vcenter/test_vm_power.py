"""Power operations on the simulator: POST vcenter/vms/{id}/power (2009, 2040-2046)."""

from unittest import mock

import pytest
from pyVmomi import vim

from audit.models import EventLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for, assert_vm_matches_vsphere
from tests.factories import UserFactory
from vcenter.client import vms as vc
from vcenter.client.errors import VCenterTaskFault
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def power(api, vm, action):
    return api.post(f"/api/vcenter/vms/{vm.pk}/power", {"action": action}, format="json")


def vsphere_vm(content, vm):
    return vim.VirtualMachine(vm.moid, content.propertyCollector._stub)


@pytest.fixture
def vm(fresh_synced):
    """A powered-on VM of the fresh simulator (vcsim's model VMs start powered on)."""
    return VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM0")


def test_power_off_on_suspend_vm_matches_vsphere(api, vm, vsphere):
    steps = [
        ("off", codes.VM_POWERED_OFF, "poweredOff"),
        ("on", codes.VM_POWERED_ON, "poweredOn"),
        ("suspend", codes.VM_SUSPENDED, "suspended"),
        ("on", codes.VM_POWERED_ON, "poweredOn"),
    ]
    for action, code, state in steps:
        response = power(api, vm, action)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["code"] == code.number
        assert body["data"]["changed"] is True
        assert vsphere_vm(vsphere, vm).runtime.powerState == state
        assert_vm_matches_vsphere(body["data"]["vm"], vsphere)
        assert VirtualMachine.objects.get(pk=vm.pk).power_state == state
    events = EventLog.objects.filter(action__startswith="power_", object_id=str(vm.pk))
    assert events.count() == len(steps)
    assert events.filter(action="power_suspend", after__power_state="suspended").exists()


def test_power_same_state_answers_plainly_without_calling_vcenter(api, vm, vsphere):
    """Asking for the state the VM is in answers the success code with `changed: false`."""
    with mock.patch.object(vc, "start_power", wraps=vc.start_power) as start_power:
        response = power(api, vm, "on")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.VM_POWERED_ON.number
    assert body["data"]["changed"] is False
    assert "already poweredOn" in body["data"]["detail"]
    start_power.assert_not_called()
    assert not EventLog.objects.filter(action="power_on").exists()

    power(api, vm, "off")
    again = power(api, vm, "off").json()
    assert again["code"] == codes.VM_POWERED_OFF.number
    assert again["data"]["changed"] is False


def test_power_reboot_resets_vm_without_running_tools(api, vm, vsphere):
    """Without VMware Tools running the reboot is a reset, and the answer says so.

    vcsim's VMs never run Tools and vcsim has no RebootGuest method at all (it answers
    MethodNotFound), so only the reset path can run against the simulator.
    """
    before = vsphere_vm(vsphere, vm).summary.runtime.bootTime
    response = power(api, vm, "reboot")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["code"] == codes.VM_REBOOTED.number
    assert body["data"]["method"] == "reset"
    assert vsphere_vm(vsphere, vm).runtime.powerState == "poweredOn"
    assert vsphere_vm(vsphere, vm).summary.runtime.bootTime > before
    assert_vm_matches_vsphere(body["data"]["vm"], vsphere)
    assert EventLog.objects.get(action="power_reboot").after["method"] == "reset"


def test_power_reboot_uses_guest_reboot_when_tools_run(api, vm):
    """With Tools running the guest OS is restarted through RebootGuest, not reset.

    vcsim cannot report Tools as running and lacks RebootGuest, so the live state read is
    patched to say Tools run and RebootGuest itself is replaced; the test checks which path
    the portal takes and what it answers.
    """
    real_read = vc.read_state

    def tools_running(content, moid):
        return {**real_read(content, moid), "tools_running": True}

    with (
        mock.patch.object(vc, "read_state", tools_running),
        mock.patch.object(vc, "reboot_guest") as reboot_guest,
        mock.patch.object(vc, "start_power", wraps=vc.start_power) as start_power,
    ):
        body = power(api, vm, "reboot").json()
    assert body["code"] == codes.VM_REBOOTED.number
    assert body["data"]["method"] == "guest_reboot"
    reboot_guest.assert_called_once()
    start_power.assert_not_called()


def test_power_reboot_of_powered_off_vm_is_refused(api, vm, vsphere):
    power(api, vm, "off")
    response = power(api, vm, "reboot")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.VM_POWER_ON_FAILED.number
    assert "Only a powered-on VM can be rebooted" in body["data"]["detail"]
    assert vsphere_vm(vsphere, vm).runtime.powerState == "poweredOff"


def test_power_on_template_fails_with_vcenters_reason(api, vm, vsphere):
    """vcsim refuses to power on a template (InvalidState); the answer carries the reason."""
    power(api, vm, "off")
    vsphere_vm(vsphere, vm).MarkAsTemplate()
    response = power(api, vm, "on")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.VM_POWER_ON_FAILED.number
    assert "cannot powerOn a template" in body["data"]["detail"]


def test_power_off_fault_maps_to_power_off_failed(api, vm):
    """A vCenter refusal of power-off (a VM busy with another task) answers 2043.

    vcsim never refuses a power-off of a powered-on VM, so the task's fault is a hand-built
    `vim.fault.TaskInProgress`, the fault a real vCenter returns for a busy VM.
    """
    fault = vim.fault.TaskInProgress(msg="The VM is busy with another task.")
    with mock.patch.object(
        vc, "wait", side_effect=VCenterTaskFault("TaskInProgress", "TaskInProgress", fault)
    ):
        response = power(api, vm, "off")
    assert response.status_code == 409
    assert response.json()["code"] == codes.VM_POWER_OFF_FAILED.number
    assert "TaskInProgress" in response.json()["data"]["detail"]


def test_power_off_with_vcenter_gone_answers_502(api, vm, vcsim_fresh):
    vcsim_fresh.stop()
    response = power(api, vm, "off")
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == codes.VM_POWER_OFF_FAILED.number
    assert "unreachable" in body["data"]["detail"]


def test_power_suspend_of_powered_off_vm_is_refused(api, vm, vsphere):
    power(api, vm, "off")
    response = power(api, vm, "suspend")
    assert response.status_code == 409
    assert response.json()["code"] == codes.VM_SUSPEND_FAILED.number
    assert vsphere_vm(vsphere, vm).runtime.powerState == "poweredOff"


@pytest.mark.parametrize(
    "body",
    [{"action": "explode"}, {"action": ""}, {}, {"action": 5}, {"action": ["on"]}, ["on"]],
    ids=["unknown", "empty", "missing", "number", "list", "not-an-object"],
)
def test_power_bad_action_answers_2009(api, vm, body):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/power", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.VM_BAD_ACTION.number


def test_power_unknown_vm_answers_action_failure_code(api, fresh_synced):
    response = api.post("/api/vcenter/vms/999999/power", {"action": "suspend"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.VM_SUSPEND_FAILED.number


def test_power_vm_gone_from_vcenter_answers_404_and_leaves_mirror(api, vm, vsphere):
    task = vsphere_vm(vsphere, vm).PowerOffVM_Task()
    assert task.info.state == "success"
    vsphere_vm(vsphere, vm).Destroy_Task()
    response = power(api, vm, "on")
    assert response.status_code == 404
    assert response.json()["code"] == codes.VM_POWER_ON_FAILED.number
    assert not VirtualMachine.objects.filter(pk=vm.pk).exists()


def test_power_requires_power_permission(vm):
    viewer = UserFactory()
    response = api_client_for(viewer).post(
        f"/api/vcenter/vms/{vm.pk}/power", {"action": "off"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == codes.PERMISSION_DENIED.number
