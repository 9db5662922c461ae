"""The VM page's clone and migrate buttons: offered and served only with their permission, and
carried out through the API's operations with the outcome in a TaskLog."""

import pytest

from audit.models import TaskLog
from kstack_naguan.api import codes
from vcenter.models import Datastore, Host, VirtualMachine

from .conftest import VIEW_VM, admin_client, staff_with, vsphere_vm, vsphere_vm_names

pytestmark = pytest.mark.django_db

CLONE = "vcenter.clone_virtualmachine"
MIGRATE = "vcenter.migrate_virtualmachine"
VIEW_TASKLOG = "audit.view_tasklog"


def page(vm, suffix=""):
    return f"/admin/vcenter/virtualmachine/{vm.pk}/{suffix}"


@pytest.fixture
def off_vm(vm, vsphere):
    task = vsphere_vm(vsphere, vm.moid).PowerOffVM_Task()
    assert task.info.state == "success"
    return vm


@pytest.mark.parametrize(
    ("permissions", "buttons"),
    [
        ([], set()),
        ([CLONE], {"vm-clone"}),
        ([MIGRATE], {"vm-migrate"}),
        ([CLONE, MIGRATE], {"vm-clone", "vm-migrate"}),
    ],
)
def test_show_vm_buttons_only_with_their_permission(vm, permissions, buttons):
    client = admin_client(staff_with(VIEW_VM, *permissions))
    html = client.get(page(vm, "change/")).content.decode()
    shown = {name for name in ("vm-clone", "vm-migrate") if f'class="{name}"' in html}
    assert shown == buttons


def test_show_no_vm_buttons_to_the_ordinary_user_role(vm, viewer):
    html = admin_client(viewer).get(page(vm, "change/")).content.decode()
    assert "vm-clone" not in html
    assert "vm-migrate" not in html


def test_show_vm_page_with_links_to_its_host_snapshots_and_task_logs(vm, administrator):
    html = admin_client(administrator).get(page(vm, "change/")).content.decode()
    assert f'href="/admin/vcenter/host/{vm.host_id}/change/"' in html
    assert f'href="/admin/vcenter/datacenter/{vm.datacenter_id}/change/"' in html
    assert f"/admin/audit/tasklog/?object_type=vcenter.VirtualMachine&amp;object_id={vm.pk}" in html
    assert "snapshot_set" in html or "snapshots-group" in html
    assert f'data-disks-url="/api/vcenter/vms/{vm.pk}/disks"' in html
    assert f'data-nics-url="/api/vcenter/vms/{vm.pk}/networks"' in html
    assert "vcenter/admin/vm_devices.js" in html


def test_vm_page_reads_devices_through_the_api_with_the_admin_session(vm, viewer):
    """What vm_devices.js fetches; the ordinary-user role may read a VM's devices."""
    client = admin_client(viewer)
    disks = client.get(f"/api/vcenter/vms/{vm.pk}/disks?page_size=200").json()
    assert disks["code"] == codes.DISK_QUERY_OK.number
    assert disks["data"]["count"] == 1
    assert disks["data"]["results"][0]["datastore"] == "LocalDS_0"
    nics = client.get(f"/api/vcenter/vms/{vm.pk}/networks?page_size=200")
    assert nics.status_code == 200


@pytest.mark.parametrize(("suffix", "needed"), [("clone/", CLONE), ("migrate/", MIGRATE)])
def test_refuse_operation_pages_and_forced_posts_without_permission(
    vm, vsphere, suffix, needed, viewer
):
    other = MIGRATE if needed == CLONE else CLONE
    for user in (viewer, staff_with(VIEW_VM), staff_with(VIEW_VM, other)):
        client = admin_client(user)
        assert client.get(page(vm, suffix)).status_code == 403
        forced = client.post(
            page(vm, suffix), {"name": "forced-clone", "host": vm.host_id, "power_off": "on"}
        )
        assert forced.status_code == 403
    assert not TaskLog.objects.filter(name__in=["vcenter.clone", "vcenter.migrate"]).exists()
    assert "forced-clone" not in vsphere_vm_names(vsphere)
    assert vsphere_vm(vsphere, vm.moid).runtime.host.name == "DC0_H0"


def test_refuse_operation_pages_for_an_unknown_vm(fresh_synced, administrator):
    client = admin_client(administrator)
    assert client.get("/admin/vcenter/virtualmachine/999999/clone/").status_code == 404
    assert client.get(f"/admin/vcenter/virtualmachine/{2**64}/migrate/").status_code == 404


def test_clone_from_the_admin_queues_the_clone_and_opens_its_task_log(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, CLONE, VIEW_TASKLOG))
    form = client.get(page(vm, "clone/"))
    assert form.status_code == 200
    assert 'name="name"' in form.content.decode()

    datastore = Datastore.objects.get(platform=vm.platform, name="LocalDS_0")
    response = client.post(page(vm, "clone/"), {"name": "admin-clone", "datastore": datastore.pk})

    task_log = TaskLog.objects.get(name="vcenter.clone")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/audit/tasklog/{task_log.pk}/change/"
    assert (task_log.status, task_log.code) == ("success", codes.VM_CLONED.number)
    assert task_log.user.has_perm(CLONE)
    assert "admin-clone" in vsphere_vm_names(vsphere)
    clone = VirtualMachine.objects.get(platform=vm.platform, name="admin-clone")
    assert clone.moid == task_log.result["moid"]

    followed = client.get(response["Location"])
    assert f"({codes.VM_CLONED.number})" in str(list(followed.context["messages"])[0])


def test_clone_by_a_user_who_cannot_read_task_logs_returns_to_the_vm(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, CLONE))
    response = client.post(page(vm, "clone/"), {"name": "quiet-clone"}, follow=True)
    assert response.redirect_chain == [(page(vm, "change/"), 302)]
    [message] = [str(m) for m in response.context["messages"]]
    assert f"({codes.VM_CLONED.number})" in message
    assert "href" not in message
    assert "quiet-clone" in vsphere_vm_names(vsphere)


def test_clone_from_the_admin_shows_refusals_on_the_form(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, CLONE))
    response = client.post(page(vm, "clone/"), {"name": "DC0_H0_VM1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"({codes.VM_CLONE_FAILED.number})" in html
    assert "already exists" in html
    assert not TaskLog.objects.filter(name="vcenter.clone").exists()

    invalid = client.post(page(vm, "clone/"), {"name": "", "host": "not-a-number"})
    assert invalid.status_code == 200
    assert set(invalid.context["form"].errors) == {"name", "host"}


def test_migrate_from_the_admin_moves_the_vm(off_vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, MIGRATE, VIEW_TASKLOG))
    target = Host.objects.get(platform=off_vm.platform, name="DC0_C0_H1")
    response = client.post(page(off_vm, "migrate/"), {"host": target.pk})

    task_log = TaskLog.objects.get(name="vcenter.migrate")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/audit/tasklog/{task_log.pk}/change/"
    assert (task_log.status, task_log.code) == ("success", codes.VM_MIGRATED.number)
    assert vsphere_vm(vsphere, off_vm.moid).runtime.host.name == "DC0_C0_H1"
    assert VirtualMachine.objects.get(pk=off_vm.pk).host == target


def test_migrate_from_the_admin_refuses_a_running_vm_unless_power_off(vm, vsphere):
    client = admin_client(staff_with(VIEW_VM, MIGRATE))
    target = Host.objects.get(platform=vm.platform, name="DC0_C0_H0")

    refused = client.post(page(vm, "migrate/"), {"host": target.pk})
    assert refused.status_code == 200
    assert f"({codes.VM_MIGRATE_FAILED.number})" in refused.content.decode()
    assert vsphere_vm(vsphere, vm.moid).runtime.host.name == "DC0_H0"

    empty = client.post(page(vm, "migrate/"), {})
    assert empty.status_code == 200
    assert empty.context["form"].non_field_errors()

    done = client.post(page(vm, "migrate/"), {"host": target.pk, "power_off": "on"})
    assert done.status_code == 302
    live = vsphere_vm(vsphere, vm.moid)
    assert (live.runtime.host.name, live.runtime.powerState) == ("DC0_C0_H0", "poweredOn")
