"""VM actions in the admin: offered only with their permission, refused when forced, and the
power, snapshot and sync actions changing vCenter through the API's own services."""

import re

import pytest

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from vcenter import services, sync
from vcenter.models import Snapshot, VirtualMachine

from .conftest import VIEW_VM, admin_client, staff_with, vsphere_vm

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/vcenter/virtualmachine/"
POWER_ACTIONS = ["power_on", "power_off", "suspend", "reboot"]
ALL_ACTIONS = [*POWER_ACTIONS, "snapshot_now", "sync_platform"]


def offered_actions(client):
    """The actions the VM list offers in its drop-down (none when it shows no action form)."""
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    action_form = response.context.get("action_form")
    if action_form is None:
        return set()
    return {name for name, _label in action_form.fields["action"].choices if name}


def run_action(client, action, *vms):
    """POST the change list's action form as the browser does; return the followed response."""
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [vm.pk for vm in vms], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    return response


def shown_messages(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        ([], set()),
        (["vcenter.power_virtualmachine"], set(POWER_ACTIONS)),
        (["vcenter.snapshot_virtualmachine"], {"snapshot_now"}),
        (["vcenter.sync_inventory"], {"sync_platform"}),
    ],
)
def test_offer_vm_actions_only_with_their_permission(fresh_synced, permissions, expected):
    client = admin_client(staff_with(VIEW_VM, *permissions))
    assert offered_actions(client) == expected


def test_offer_every_vm_action_to_the_administrator_role(fresh_synced, administrator):
    assert offered_actions(admin_client(administrator)) >= set(ALL_ACTIONS)


def test_offer_no_vm_action_to_the_ordinary_user_role(fresh_synced, viewer):
    assert offered_actions(admin_client(viewer)) == set()


def test_run_power_actions_with_power_role_changes_vsphere(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, "vcenter.power_virtualmachine"))
    steps = [
        ("power_off", codes.VM_POWERED_OFF, "poweredOff"),
        ("power_on", codes.VM_POWERED_ON, "poweredOn"),
        ("suspend", codes.VM_SUSPENDED, "suspended"),
        ("power_on", codes.VM_POWERED_ON, "poweredOn"),
        ("reboot", codes.VM_REBOOTED, "poweredOn"),
    ]
    for action, code, state in steps:
        response = run_action(client, action, vm)
        assert shown_messages(response) == [
            ("success", f"“DC0_H0_VM0”: {code.msg} ({code.number})")
        ]
        assert vsphere_vm(vsphere, vm.moid).runtime.powerState == state
        assert VirtualMachine.objects.get(pk=vm.pk).power_state == state
    assert EventLog.objects.filter(action__startswith="power_", object_id=str(vm.pk)).count() == 5


def test_run_power_action_reports_each_vm_and_refusals(fresh_synced, vsphere):
    on_vm = VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM0")
    off_vm = VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM1")
    vsphere_vm(vsphere, off_vm.moid).PowerOffVM_Task()
    client = admin_client(staff_with(VIEW_VM, "vcenter.power_virtualmachine"))

    response = run_action(client, "suspend", on_vm, off_vm)

    shown = {
        text.split(":")[0].strip("“”"): (level, text) for level, text in shown_messages(response)
    }
    assert shown["DC0_H0_VM0"][0] == "success"
    assert f"({codes.VM_SUSPENDED.number})" in shown["DC0_H0_VM0"][1]
    assert shown["DC0_H0_VM1"][0] == "error"
    assert f"({codes.VM_SUSPEND_FAILED.number})" in shown["DC0_H0_VM1"][1]
    assert "Only a powered-on VM can be suspended" in shown["DC0_H0_VM1"][1]
    assert vsphere_vm(vsphere, off_vm.moid).runtime.powerState == "poweredOff"


def test_run_power_action_on_a_vm_already_in_that_state_says_so(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, "vcenter.power_virtualmachine"))
    [(level, text)] = shown_messages(run_action(client, "power_on", vm))
    assert level == "success"
    assert "already poweredOn; nothing was done" in text


@pytest.mark.parametrize("action", ALL_ACTIONS)
@pytest.mark.parametrize(
    "permissions",
    [[], ["vcenter.change_virtualmachine", "vcenter.clone_virtualmachine"]],
    ids=["view-only", "other-permissions"],
)
def test_refuse_forced_action_post_without_its_permission(vm, vsphere, action, permissions):
    client = admin_client(staff_with(VIEW_VM, *permissions))
    response = run_action(client, action, vm)
    assert [level for level, _text in shown_messages(response)] in ([], ["warning"])
    live = vsphere_vm(vsphere, vm.moid)
    assert live.runtime.powerState == "poweredOn"
    assert not Snapshot.objects.filter(vm=vm).exists()
    assert not TaskLog.objects.filter(name="vcenter.sync", user__isnull=False).exists()
    assert not EventLog.objects.filter(
        object_type="vcenter.VirtualMachine", object_id=str(vm.pk)
    ).exists()


def test_refuse_forced_action_post_by_the_ordinary_user_role(vm, vsphere, viewer):
    client = admin_client(viewer)
    for action in ALL_ACTIONS:
        run_action(client, action, vm)
    assert vsphere_vm(vsphere, vm.moid).runtime.powerState == "poweredOn"
    assert not Snapshot.objects.filter(vm=vm).exists()
    assert not EventLog.objects.filter(
        object_type="vcenter.VirtualMachine", object_id=str(vm.pk)
    ).exists()


def test_refuse_vm_list_to_staff_without_view_permission(fresh_synced):
    client = admin_client(staff_with("vcenter.power_virtualmachine"))
    assert client.get(CHANGELIST).status_code == 403


def test_run_snapshot_now_with_snapshot_role_takes_a_snapshot(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, "vcenter.snapshot_virtualmachine"))
    [(level, text)] = shown_messages(run_action(client, "snapshot_now", vm))
    assert level == "success"
    assert f"({codes.SNAPSHOT_CREATED.number})" in text

    snapshot = Snapshot.objects.get(vm=vm)
    assert snapshot.is_current
    assert f'href="/admin/vcenter/snapshot/{snapshot.pk}/change/"' in text
    live = vsphere_vm(vsphere, vm.moid)
    assert [root.name for root in live.snapshot.rootSnapshotList] == [snapshot.name]
    assert EventLog.objects.filter(action="snapshot_created", object_id=str(vm.pk)).exists()


def test_run_sync_action_with_sync_role_links_the_task_log(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, "vcenter.sync_inventory", "audit.view_tasklog"))
    before = TaskLog.objects.filter(name="vcenter.sync").count()

    [(level, text)] = shown_messages(run_action(client, "sync_platform", vm))

    task_log = TaskLog.objects.filter(name="vcenter.sync").latest("id")
    assert TaskLog.objects.filter(name="vcenter.sync").count() == before + 1
    assert (task_log.status, task_log.code) == ("success", codes.SYNC_OK.number)
    assert level == "success"
    assert f'href="/admin/audit/tasklog/{task_log.pk}/change/"' in text
    assert f"({codes.SYNC_OK.number})" in text


def test_run_sync_action_while_a_sync_runs_links_the_running_task_log(vm):
    """The running sync is a TaskLog and a held lock made by hand: eager tasks end at once."""
    platform = vm.platform
    before = TaskLog.objects.filter(name=services.SYNC_TASK_NAME).count()
    running = TaskLog.objects.create(
        name=services.SYNC_TASK_NAME,
        status="running",
        object_type=platform._meta.label,
        object_id=str(platform.pk),
        object_repr=str(platform),
    )
    token = sync.claim_sync_lock(platform.pk)
    try:
        client = admin_client(staff_with(VIEW_VM, "vcenter.sync_inventory", "audit.view_tasklog"))
        [(level, text)] = shown_messages(run_action(client, "sync_platform", vm))
    finally:
        sync.release_sync_lock(platform.pk, token)
    assert level == "warning"
    assert "already running" in text
    assert re.search(rf'href="/admin/audit/tasklog/{running.pk}/change/"', text)
    assert TaskLog.objects.filter(name=services.SYNC_TASK_NAME).count() == before + 1


def test_action_message_shows_the_vm_name_in_its_own_letter_case(vm, vsphere):
    """The admin capitalises a message's first letter; vSphere names are case-sensitive."""
    VirtualMachine.objects.filter(pk=vm.pk).update(name="ops-web01")
    client = admin_client(staff_with(VIEW_VM, "vcenter.power_virtualmachine"))
    page = run_action(client, "power_off", vm).content.decode()
    assert "“ops-web01”: " in page
    assert "Ops-web01" not in page
