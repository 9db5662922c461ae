"""Clone (2050-2054) and cold migration (2060-2063) of VMs on the simulator."""

from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for, assert_vm_matches_vsphere, wait_for_task_log
from tests.factories import CloudPlatformFactory, UserFactory
from vcenter import services
from vcenter.client import tasks as vc_tasks
from vcenter.client import vms as vc
from vcenter.client.errors import VCenterTaskFault
from vcenter.models import Datastore, Host, ResourcePool, VirtualMachine

pytestmark = pytest.mark.django_db


def vsphere_vm(content, moid):
    return vim.VirtualMachine(moid, content.propertyCollector._stub)


def all_vms(content):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return {vm._moId: vm.name for vm in view.view}
    finally:
        view.Destroy()


def run(task):
    assert task.info.state == "success", task.info.error
    return task


@pytest.fixture
def vm(fresh_synced):
    """DC0_H0_VM0, powered on, on the standalone host DC0_H0."""
    return VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM0")


@pytest.fixture
def template(fresh_synced, vsphere):
    """DC0_H0_VM1 turned into a template, mirrored as one."""
    row = VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM1")
    live = vsphere_vm(vsphere, row.moid)
    run(live.PowerOffVM_Task())
    live.MarkAsTemplate()
    services.start_sync(fresh_synced)
    row.refresh_from_db()
    assert row.is_template
    return row


def clone(api, vm, **data):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/clone", data, format="json")
    return response, response.json()


def task_log_of(body):
    return TaskLog.objects.get(pk=body["data"]["task_id"])


# Clone


def test_clone_vm_records_the_vcenter_task_and_matches_vsphere(api, vm, vsphere):
    response, body = clone(api, vm, name="web-clone", datastore="LocalDS_0")
    assert response.status_code == 202
    assert body["code"] == codes.TASK_ACCEPTED.number

    task_log = task_log_of(body)
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.VM_CLONED.number
    assert task_log.vcenter_task.startswith("task-")
    assert task_log.result["vcenter_task"] == task_log.vcenter_task
    assert task_log.progress == 100
    assert task_log.object_id == str(vm.pk)

    clone_moid = task_log.result["moid"]
    assert all_vms(vsphere)[clone_moid] == "web-clone"
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()["data"]
    assert detail["name"] == "web-clone"
    assert_vm_matches_vsphere(detail, vsphere)
    event = EventLog.objects.get(action="clone", object_id=str(task_log.result["id"]))
    assert event.message == f"cloned from {vm.name} ({vm.moid})"


def test_clone_to_a_cluster_host_shows_where_vcenter_put_it(api, vm, vsphere):
    """vcsim ignores the clone's target host and keeps the source's; whatever vCenter decides,
    the API shows the clone where vCenter has it."""
    _response, body = clone(api, vm, name="moved-clone", host="DC0_C0_H2")
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_CLONED.number, task_log.error
    assert task_log.args["plan"]["host"] == Host.objects.get(name="DC0_C0_H2").moid
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()["data"]
    assert_vm_matches_vsphere(detail, vsphere)


def test_clone_progress_reaches_the_task_log(api, vm):
    """vcsim finishes a clone inside the call and never reports progress, so the waiter is fed
    two made-up "running" updates (20 %, 60 %) before the real task state; each poll checks
    what the TaskLog holds at that moment."""
    real_retrieve = vc_tasks.retrieve_one
    updates = [
        {"info.state": vim.TaskInfo.State.running, "info.progress": 20},
        {"info.state": vim.TaskInfo.State.running, "info.progress": 60},
    ]
    seen = []

    def fake_retrieve(content, task, paths):
        log = TaskLog.objects.get(name="vcenter.clone")
        seen.append((log.status, log.progress, log.vcenter_task))
        if updates:
            return {"_type": "Task", "_moid": task._moId, **updates.pop(0)}
        return real_retrieve(content, task, paths)

    with mock.patch.object(vc_tasks, "retrieve_one", fake_retrieve):
        _response, body = clone(api, vm, name="progress-clone")
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_CLONED.number, task_log.error
    vcenter_task = task_log.vcenter_task
    assert seen == [
        ("running", 0, vcenter_task),
        ("running", 20, vcenter_task),
        ("running", 60, vcenter_task),
    ]
    assert task_log.progress == 100


@pytest.mark.parametrize("target", [{}, {"host": "DC0_H0"}], ids=["its-host", "named-host"])
def test_clone_template_without_pool_uses_the_hosts_root_pool(api, template, vsphere, target):
    """vCenter wants a pool for a VM made from a template; the portal gives the root pool of
    the target host (or the template's own host) when the caller names none."""
    _response, body = clone(api, template, name="from-template", **target)
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_CLONED.number, task_log.error
    live = vsphere_vm(vsphere, task_log.result["moid"])
    assert live.config.template is False
    expected = ResourcePool.objects.get(
        owner_moid=template.host.compute_resource_moid,
        parent_moid=template.host.compute_resource_moid,
    )
    assert live.resourcePool._moId == expected.moid


def test_clone_template_vcenter_refuses_fails_with_vcenters_reason(api, template, vsphere):
    """vCenter (and vcsim) refuse to clone a template without a resource pool; with the
    template's host unknown to the mirror, the portal has none to give, so vCenter's refusal
    comes back: the TaskLog ends 2054 with the reason and the mirror gets no half-made row."""
    VirtualMachine.objects.filter(pk=template.pk).update(host=None)
    vms_before = all_vms(vsphere)
    rows_before = VirtualMachine.objects.count()
    _response, body = clone(api, template, name="from-template")
    task_log = task_log_of(body)
    assert task_log.status == "failure"
    assert task_log.code == codes.VM_CLONE_FAILED.number
    assert "spec.location.pool" in task_log.error
    assert task_log.vcenter_task.startswith("task-")
    assert VirtualMachine.objects.count() == rows_before
    assert not VirtualMachine.objects.filter(name="from-template").exists()
    assert all_vms(vsphere) == vms_before


def test_clone_template_with_pool_as_powered_on_vm(api, template, vsphere):
    pool = ResourcePool.objects.get(owner_moid=template.host.compute_resource_moid)
    _response, body = clone(
        api, template, name="from-template", resource_pool=pool.pk, power_on=True
    )
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_CLONED.number, task_log.error
    live = vsphere_vm(vsphere, task_log.result["moid"])
    assert live.config.template is False
    assert live.runtime.powerState == "poweredOn"
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()["data"]
    assert_vm_matches_vsphere(detail, vsphere)


def test_clone_vm_as_template_with_special_name(api, vm, vsphere):
    _response, body = clone(api, vm, name="golden/ubuntu 100%", template=True)
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_CLONED.number, task_log.error
    live = vsphere_vm(vsphere, task_log.result["moid"])
    assert live.name == "golden%2fubuntu 100%25"
    assert live.config.template is True
    detail = api.get(f"/api/vcenter/vms/{task_log.result['id']}").json()["data"]
    assert detail["name"] == "golden/ubuntu 100%"
    assert detail["is_template"] is True
    assert_vm_matches_vsphere(detail, vsphere)


def test_clone_with_a_name_taken_in_the_folder_is_refused_before_vcenter(api, vm, vsphere):
    """vcsim accepts duplicate names on clone; a real vCenter does not (DuplicateName)."""
    before = all_vms(vsphere)
    with mock.patch.object(vc, "start_clone") as start_clone:
        response, body = clone(api, vm, name="DC0_C0_RP0_VM0")
    assert response.status_code == 409
    assert body["code"] == codes.VM_CLONE_FAILED.number
    assert "already exists" in body["data"]["detail"]
    start_clone.assert_not_called()
    assert all_vms(vsphere) == before


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"datacenter": "DC9"}, codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER, "datacenter"),
        ({"datacenter": 999999}, codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER, "datacenter"),
        ({"host": "no-host"}, codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER, "host"),
        ({"resource_pool": 999999}, codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER, "resource_pool"),
        ({"folder": "no-folder"}, codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER, "folder"),
        ({"datacenter": 1.5}, codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER, "datacenter"),
        ({"datastore": "no-ds"}, codes.VM_CLONE_NO_DATASTORE, "datastore"),
        ({"datastore": 999999}, codes.VM_CLONE_NO_DATASTORE, "datastore"),
        ({"datastore": {"id": 1}}, codes.VM_CLONE_NO_DATASTORE, "datastore"),
        ({"template": True, "power_on": True}, codes.INVALID_INPUT, "power_on"),
        ({"name": ""}, codes.INVALID_INPUT, "name"),
        ({"name": None}, codes.INVALID_INPUT, "name"),
        ({"name": "x" * 300}, codes.INVALID_INPUT, "name"),
        ({"power_on": "sometimes"}, codes.INVALID_INPUT, "power_on"),
    ],
)
def test_clone_rejects_unknown_targets_and_bad_input(api, vm, vsphere, data, code, field):
    before = all_vms(vsphere)
    response, body = clone(api, vm, **{"name": "c1", **data})
    assert response.status_code == 400
    assert body["code"] == code.number
    assert field in body["data"]["errors"]
    assert all_vms(vsphere) == before


def test_clone_unknown_or_vanished_source_answers_2053(api, vm, vsphere):
    missing = api.post("/api/vcenter/vms/999999/clone", {"name": "c1"}, format="json")
    assert missing.status_code == 404
    assert missing.json()["code"] == codes.VM_CLONE_NO_SOURCE.number

    live = vsphere_vm(vsphere, vm.moid)
    run(live.PowerOffVM_Task())
    run(live.Destroy_Task())
    response, body = clone(api, vm, name="c1")
    assert response.status_code == 404
    assert body["code"] == codes.VM_CLONE_NO_SOURCE.number
    assert not VirtualMachine.objects.filter(pk=vm.pk).exists()


def test_clone_needs_the_clone_permission(vm):
    user = UserFactory()
    response = api_client_for(user).post(
        f"/api/vcenter/vms/{vm.pk}/clone", {"name": "c1"}, format="json"
    )
    assert response.status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="clone_virtualmachine"))
    user = type(user).objects.get(pk=user.pk)
    allowed = api_client_for(user).post(
        f"/api/vcenter/vms/{vm.pk}/clone", {"name": "c1"}, format="json"
    )
    assert allowed.status_code == 202
    assert task_log_of(allowed.json()).code == codes.VM_CLONED.number


# Cold migration


def migrate(api, vm, **data):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/migrate", data, format="json")
    return response, response.json()


@pytest.fixture
def off_vm(vm, vsphere):
    run(vsphere_vm(vsphere, vm.moid).PowerOffVM_Task())
    return vm


def test_migrate_powered_off_vm_to_a_cluster_host_matches_vsphere(api, off_vm, vsphere):
    response, body = migrate(api, off_vm, host="DC0_C0_H1", datastore="LocalDS_0")
    assert response.status_code == 202
    task_log = task_log_of(body)
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.VM_MIGRATED.number
    assert task_log.vcenter_task.startswith("task-")
    live = vsphere_vm(vsphere, off_vm.moid)
    assert live.runtime.host.name == "DC0_C0_H1"
    assert live.resourcePool.parent.name == "DC0_C0"  # the cluster's root pool
    detail = api.get(f"/api/vcenter/vms/{off_vm.pk}").json()["data"]
    assert detail["host_name"] == "DC0_C0_H1"
    assert detail["cluster_name"] == "DC0_C0"
    assert_vm_matches_vsphere(detail, vsphere)
    event = EventLog.objects.get(action="migrate")
    assert (event.before["host"], event.after["host"]) == ("DC0_H0", "DC0_C0_H1")
    assert event.after["resource_pool"] == "Resources"
    assert event.after["datastores"] == ["LocalDS_0"]


def test_migrate_powered_on_vm_is_refused_unless_power_off(api, vm, vsphere):
    with mock.patch.object(vc, "start_relocate") as start_relocate:
        response, body = migrate(api, vm, host="DC0_C0_H0")
    assert response.status_code == 409
    assert body["code"] == codes.VM_MIGRATE_FAILED.number
    assert "power_off=true" in body["data"]["detail"]
    start_relocate.assert_not_called()
    assert vsphere_vm(vsphere, vm.moid).runtime.host.name == "DC0_H0"

    _response, body = migrate(api, vm, host="DC0_C0_H0", power_off=True)
    task_log = task_log_of(body)
    assert task_log.code == codes.VM_MIGRATED.number, task_log.error
    assert task_log.result["power_cycled"] is True
    live = vsphere_vm(vsphere, vm.moid)
    assert (live.runtime.host.name, live.runtime.powerState) == ("DC0_C0_H0", "poweredOn")
    assert_vm_matches_vsphere(api.get(f"/api/vcenter/vms/{vm.pk}").json()["data"], vsphere)


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"host": "no-host"}, codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER, "host"),
        ({"host": 999999}, codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER, "host"),
        ({"resource_pool": "nope"}, codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER, "resource_pool"),
        ({"host": False}, codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER, "host"),
        ({"datastore": "no-ds"}, codes.VM_MIGRATE_NO_DATASTORE, "datastore"),
        ({"datastore": ["LocalDS_0"]}, codes.VM_MIGRATE_NO_DATASTORE, "datastore"),
        ({}, codes.INVALID_INPUT, "non_field_errors"),
        ({"host": "DC0_C0_H0", "power_off": "maybe"}, codes.INVALID_INPUT, "power_off"),
    ],
)
def test_migrate_rejects_unknown_targets_and_bad_input(api, off_vm, vsphere, data, code, field):
    response, body = migrate(api, off_vm, **data)
    assert response.status_code == 400
    assert body["code"] == code.number
    assert field in body["data"]["errors"]
    assert vsphere_vm(vsphere, off_vm.moid).runtime.host.name == "DC0_H0"


def test_migrate_pool_of_another_cluster_than_the_host_answers_2061(api, off_vm, fresh_synced):
    standalone_pool = ResourcePool.objects.get(
        platform=fresh_synced, owner_moid="computeresource-23"
    )
    _response, body = migrate(api, off_vm, host="DC0_C0_H0", resource_pool=standalone_pool.pk)
    assert body["code"] == codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER.number


def test_migrate_to_a_datastore_the_host_cannot_reach_answers_2062(
    api, fresh_synced, vsphere, tmp_path
):
    """A datastore mounted only on the standalone host is out of reach of a cluster VM."""
    host = next(
        h
        for h in vsphere.viewManager.CreateContainerView(
            vsphere.rootFolder, [vim.HostSystem], True
        ).view
        if h.name == "DC0_H0"
    )
    host.configManager.datastoreSystem.CreateLocalDatastore("OnlyH0", str(tmp_path))
    services.start_sync(fresh_synced)
    assert Datastore.objects.filter(name="OnlyH0").exists()
    cluster_vm = VirtualMachine.objects.get(name="DC0_C0_RP0_VM0")
    run(vsphere_vm(vsphere, cluster_vm.moid).PowerOffVM_Task())
    response, body = migrate(api, cluster_vm, datastore="OnlyH0")
    assert response.status_code == 400
    assert body["code"] == codes.VM_MIGRATE_NO_DATASTORE.number
    assert "not reachable" in body["data"]["errors"]["datastore"][0]


def test_migrate_refused_by_vcenter_answers_2063(api, off_vm, vsphere):
    """vcsim's relocate never fails; a real vCenter refuses e.g. a host in maintenance mode
    (InvalidHostState). The relocate task's fault is fed to the waiter (vcsim has already
    moved the VM by then), and the mirror still ends as vCenter has the VM."""
    fault = vim.fault.InvalidHostState(msg="The host is in maintenance mode.")
    error = VCenterTaskFault("InvalidHostState: The host is in maintenance mode.", "x", fault)
    with mock.patch.object(vc, "wait", side_effect=error):
        _response, body = migrate(api, off_vm, host="DC0_C0_H0")
    task_log = task_log_of(body)
    assert task_log.status == "failure"
    assert task_log.code == codes.VM_MIGRATE_FAILED.number
    assert "maintenance mode" in task_log.error
    assert_vm_matches_vsphere(api.get(f"/api/vcenter/vms/{off_vm.pk}").json()["data"], vsphere)


def test_migrate_unknown_vm_and_permission(api, off_vm):
    missing = api.post("/api/vcenter/vms/999999/migrate", {"host": "DC0_C0_H0"}, format="json")
    assert missing.status_code == 404
    assert missing.json()["code"] == codes.VM_MIGRATE_FAILED.number
    denied = api_client_for(UserFactory()).post(
        f"/api/vcenter/vms/{off_vm.pk}/migrate", {"host": "DC0_C0_H0"}, format="json"
    )
    assert denied.status_code == 403


@pytest.mark.worker
def test_worker_clones_vm_and_records_the_vcenter_task(celery_worker, vcsim_fresh, api):
    platform = CloudPlatformFactory.for_simulator(vcsim_fresh, name="worker-fresh")
    synced = wait_for_task_log(services.start_sync(platform).pk)
    assert synced.status == "success", synced.error
    vm = VirtualMachine.objects.get(platform=platform, name="DC0_H0_VM0")

    response = api.post(f"/api/vcenter/vms/{vm.pk}/clone", {"name": "by-worker"}, format="json")
    assert response.status_code == 202
    task_log = wait_for_task_log(response.json()["data"]["task_id"])
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.VM_CLONED.number
    assert task_log.celery_task_id
    assert task_log.vcenter_task.startswith("task-")
    assert VirtualMachine.objects.filter(platform=platform, name="by-worker").exists()
