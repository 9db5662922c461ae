import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pyVim.connect import Disconnect
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from tests.conftest import VCSIM_PASSWORD, vsphere_content
from tests.factories import CloudPlatformFactory
from vcenter import services
from vcenter.models import (
    Cluster,
    Datacenter,
    Datastore,
    Folder,
    Host,
    Network,
    ResourcePool,
    VirtualMachine,
)

pytestmark = pytest.mark.django_db


def count(content, vim_type):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        return len(view.view)
    finally:
        view.Destroy()


def test_sync_mirrors_every_object_type_of_the_simulator(platform, vcsim):
    task_log = services.start_sync(platform)
    task_log.refresh_from_db()
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.SYNC_OK.number

    si, content = vsphere_content(vcsim)
    expected = {
        Datacenter: count(content, vim.Datacenter),
        Cluster: count(content, vim.ClusterComputeResource),
        Host: count(content, vim.HostSystem),
        ResourcePool: count(content, vim.ResourcePool),
        Datastore: count(content, vim.Datastore),
        Network: count(content, vim.Network),
        VirtualMachine: count(content, vim.VirtualMachine),
        Folder: count(content, vim.Folder),
    }
    for model, number in expected.items():
        assert model.objects.filter(platform=platform).count() == number, model.__name__
    assert VirtualMachine.objects.count() == vcsim.expected_vm_count

    # The mirror holds what vCenter says about each VM.
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    for vm in view.view:
        row = VirtualMachine.objects.get(platform=platform, moid=vm._moId)
        assert row.name == vm.name
        assert row.power_state == vm.runtime.powerState
        assert row.num_cpu == vm.summary.config.numCpu
        assert row.memory_mb == vm.summary.config.memorySizeMB
        assert row.host.moid == vm.runtime.host._moId
        assert row.datacenter.name == "DC0"
    view.Destroy()
    assert task_log.result["counts"]["virtualmachine"]["added"] == vcsim.expected_vm_count
    assert Host.objects.filter(cluster__isnull=False).count() == 3
    hosts = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.Datastore], True)
    for ds in view.view:
        mounted = {mount.key._moId for mount in ds.host}
        mounted |= {host._moId for host in hosts.view if ds in host.datastore}
        assert (
            set(Datastore.objects.get(moid=ds._moId).hosts.values_list("moid", flat=True))
            == mounted
        )
    view.Destroy()
    hosts.Destroy()
    Disconnect(si)


def test_second_sync_without_change_writes_nothing(platform, django_assert_max_num_queries):
    services.start_sync(platform)
    before = {m: list(m.objects.values_list("id", "synced_at")) for m in (VirtualMachine, Host)}
    events = EventLog.objects.count()

    second = services.start_sync(platform)
    second.refresh_from_db()
    assert second.status == "success"
    assert second.result["rows_written"] == 0
    assert all(
        c["added"] == c["changed"] == c["removed"] == 0 for c in second.result["counts"].values()
    )
    assert {m: list(m.objects.values_list("id", "synced_at")) for m in before} == before
    assert EventLog.objects.count() == events


def test_sync_removes_stale_links_in_one_statement_per_table(platform):
    """Links that vCenter no longer reports (here: added to the mirror by hand) go at the next
    sync, all of a table's in one DELETE, however many there are."""
    services.start_sync(platform)
    vms = list(VirtualMachine.objects.filter(platform=platform))
    spare = Datastore.objects.create(
        platform=platform, datacenter=vms[0].datacenter, moid="datastore-stale", name="stale"
    )
    links = VirtualMachine.datastores.through
    links.objects.bulk_create(links(virtualmachine=vm, datastore=spare) for vm in vms)
    wanted = set(links.objects.exclude(datastore=spare).values_list("pk", flat=True))

    with CaptureQueriesContext(connection) as queries:
        second = services.start_sync(platform)
    second.refresh_from_db()

    assert second.status == "success", second.error
    assert second.result["counts"]["links"]["changed"] == len(vms)
    assert set(links.objects.values_list("pk", flat=True)) == wanted
    assert not Datastore.objects.filter(moid="datastore-stale").exists()
    table = links._meta.db_table
    deletes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'DELETE FROM "{table}"')
    ]
    # One DELETE of the links by id; the vanished datastore's own cascade finds none left.
    assert len([sql for sql in deletes if f'"{table}"."id" IN' in sql]) == 1


def test_destroyed_vm_disappears_after_next_sync(fresh_platform, vsphere):
    services.start_sync(fresh_platform)
    vm = vsphere.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    vm.PowerOffVM_Task()
    vm.Destroy_Task()

    task_log = services.start_sync(fresh_platform)
    task_log.refresh_from_db()
    assert task_log.result["counts"]["virtualmachine"]["removed"] == 1
    assert not VirtualMachine.objects.filter(name="DC0_H0_VM0").exists()
    assert EventLog.objects.filter(action="vanished", object_repr="DC0_H0_VM0").exists()


def test_power_change_is_mirrored_and_logged(fresh_platform, vsphere):
    services.start_sync(fresh_platform)
    vm = vsphere.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM1")
    vm.PowerOffVM_Task()

    task_log = services.start_sync(fresh_platform)
    task_log.refresh_from_db()
    assert task_log.result["counts"]["virtualmachine"]["changed"] == 1
    assert VirtualMachine.objects.get(name="DC0_H0_VM1").power_state == "poweredOff"
    event = EventLog.objects.get(action="power_state_changed")
    assert event.before == {"power_state": "poweredOn"}
    assert event.after == {"power_state": "poweredOff"}


def test_wrong_password_fails_with_2401_and_keeps_inventory(platform):
    services.start_sync(platform)
    snapshot = sorted(VirtualMachine.objects.values_list("moid", "name", "power_state"))
    platform.password = "not-" + VCSIM_PASSWORD
    platform.save()

    task_log = services.start_sync(platform)
    task_log.refresh_from_db()
    assert task_log.status == "failure"
    assert task_log.code == codes.SYNC_FAILED.number
    assert "refused the login" in task_log.error
    assert VCSIM_PASSWORD not in task_log.error
    assert sorted(VirtualMachine.objects.values_list("moid", "name", "power_state")) == snapshot


def test_vcenter_down_fails_with_2401_and_keeps_inventory(fresh_platform, vcsim_fresh):
    services.start_sync(fresh_platform)
    vms = VirtualMachine.objects.count()
    vcsim_fresh.stop()

    task_log = services.start_sync(fresh_platform)
    task_log.refresh_from_db()
    assert task_log.status == "failure"
    assert task_log.code == codes.SYNC_FAILED.number
    assert "unreachable" in task_log.error
    assert VirtualMachine.objects.count() == vms


def test_session_lost_on_restart_logs_in_again(fresh_platform, vcsim_fresh):
    services.start_sync(fresh_platform)
    vcsim_fresh.restart()
    task_log = services.start_sync(fresh_platform)
    task_log.refresh_from_db()
    assert task_log.status == "success", task_log.error


def test_sync_keeps_platforms_apart(db, vcsim):
    first = CloudPlatformFactory.for_simulator(vcsim, name="one")
    second = CloudPlatformFactory.for_simulator(vcsim, name="two")
    services.start_sync(first)
    services.start_sync(second)
    assert VirtualMachine.objects.filter(platform=first).count() == vcsim.expected_vm_count
    assert VirtualMachine.objects.filter(platform=second).count() == vcsim.expected_vm_count
    assert TaskLog.objects.filter(status="success").count() == 2


def test_refresh_vm_updates_one_row_and_removes_a_vanished_vm(fresh_platform, vsphere):
    from vcenter.sync import refresh_vm

    services.start_sync(fresh_platform)
    vm = vsphere.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    vm.PowerOffVM_Task()
    row = refresh_vm(fresh_platform, vm._moId)
    assert row.power_state == "poweredOff"
    assert row.datastores.count() == 1

    vm.Destroy_Task()
    assert refresh_vm(fresh_platform, vm._moId) is None
    assert not VirtualMachine.objects.filter(moid=vm._moId).exists()


def test_vm_created_after_the_first_sync_is_logged_as_appeared(fresh_platform, vsphere):
    services.start_sync(fresh_platform)
    assert EventLog.objects.filter(action="imported").count() == 1
    vm = vsphere.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    folder = vsphere.searchIndex.FindByInventoryPath("DC0/vm")
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec())
    task = vm.CloneVM_Task(folder=folder, name="late-arrival", spec=spec)
    for _ in range(100):  # vcsim ends tasks inside the call; a real vCenter takes a moment
        if task.info.state in ("success", "error"):
            break
        time.sleep(0.05)
    assert task.info.state == "success", task.info.error
    services.start_sync(fresh_platform)
    assert EventLog.objects.filter(action="appeared", object_repr="late-arrival").count() == 1
    assert EventLog.objects.filter(action="imported").count() == 1
