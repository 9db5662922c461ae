"""A VM's snapshots through `/api/vcenter/vms/{id}/snapshots/`, checked in vcsim afterwards.

vcsim's revert only moves the current-snapshot pointer (the VM's disks and power state stay as
they were), so revert tests check the pointer. Trees are read through the PropertyCollector:
reading `vm.snapshot` by attribute on a VM without snapshots makes vcsim drop the connection.
"""

import pytest
from django.contrib.auth.models import Permission
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from audit.services import enqueue
from kstack_naguan.api import codes
from tests.conftest import api_client_for, wait_for_task_log
from tests.factories import UserFactory
from vcenter import device_tasks, services
from vcenter.client.inventory import retrieve_one
from vcenter.client.tasks import wait_for_task
from vcenter.models import Snapshot, VirtualMachine

pytestmark = [pytest.mark.django_db, pytest.mark.vcsim]


@pytest.fixture
def vm(fresh_platform):
    services.start_sync(fresh_platform)
    return VirtualMachine.objects.get(platform=fresh_platform, name="DC0_H0_VM0")


def vc_tree(content, vm):
    """`({name: (snapshot_id, parent name)}, current name)` as vCenter has it."""
    ref = vim.VirtualMachine(vm.moid, content.propertyCollector._stub)
    info = retrieve_one(content, ref, ["snapshot"]).get("snapshot")
    if info is None:
        return {}, None
    nodes, current = {}, None

    def walk(trees, parent):
        nonlocal current
        for tree in trees:
            nodes[tree.name] = (tree.id, parent)
            if (
                info.currentSnapshot is not None
                and tree.snapshot._moId == info.currentSnapshot._moId
            ):
                current = tree.name
            walk(tree.childSnapshotList, tree.name)

    walk(info.rootSnapshotList, None)
    return nodes, current


def create(api, vm, name, **extra):
    body = {"action": "create", "snapshot_name": name, **extra}
    response = api.post(f"/api/vcenter/vms/{vm.pk}/snapshots", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def revert(api, vm, snapshot_id):
    body = {"action": "revert", "snapshot_id": snapshot_id}
    return api.post(f"/api/vcenter/vms/{vm.pk}/snapshots/", body, format="json")


@pytest.fixture
def branch(api, vm):
    """s1 → s2 → s3, then back to s1 and s4 beside s2: s1 has two children, s4 is current."""
    s1 = create(api, vm, "s1")
    s2 = create(api, vm, "s2")
    s3 = create(api, vm, "s3")
    assert revert(api, vm, s1["snapshot_id"]).status_code == 202
    s4 = create(api, vm, "s4")
    return {"s1": s1, "s2": s2, "s3": s3, "s4": s4}


# Creating


def test_create_snapshot_takes_it_in_vcenter_and_mirrors_it(api, vm, vsphere):
    response = api.post(
        f"/api/vcenter/vms/{vm.pk}/snapshots",
        {
            "action": "create",
            "snapshot_name": "before upgrade",
            "description": "快照说明",
            "memory": True,
            "quiesce": True,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == codes.SNAPSHOT_CREATED.number
    node = body["data"]
    assert (node["name"], node["description"], node["is_current"]) == (
        "before upgrade",
        "快照说明",
        True,
    )
    assert node["quiesced"] is True

    nodes, current = vc_tree(vsphere, vm)
    assert nodes == {"before upgrade": (node["snapshot_id"], None)}
    assert current == "before upgrade"
    row = Snapshot.objects.get(vm=vm)
    assert (row.pk, row.moid, row.is_current, row.parent) == (node["id"], node["moid"], True, None)
    assert row.created_in_vcenter is not None
    event = EventLog.objects.get(action="snapshot_created")
    assert event.object_id == str(vm.pk)
    assert event.after["memory"] is True


def test_create_snapshot_accepts_name_for_snapshot_name(api, vm, vsphere):
    response = api.post(
        f"/api/vcenter/vms/{vm.pk}/snapshots", {"action": "create", "name": "n"}, format="json"
    )
    assert response.json()["code"] == codes.SNAPSHOT_CREATED.number
    assert set(vc_tree(vsphere, vm)[0]) == {"n"}


@pytest.mark.parametrize(
    "extra",
    [{}, {"snapshot_name": ""}, {"snapshot_name": "   "}, {"snapshot_name": None}],
)
def test_create_snapshot_answers_2301_without_a_name(api, vm, vsphere, extra):
    response = api.post(
        f"/api/vcenter/vms/{vm.pk}/snapshots", {"action": "create", **extra}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.SNAPSHOT_MISSING_NAME.number
    assert "snapshot_name" in body["data"]["errors"]
    assert vc_tree(vsphere, vm) == ({}, None)


@pytest.mark.parametrize(
    "extra",
    [
        {"snapshot_name": ["a"]},
        {"snapshot_name": "x" * 256},
        {"snapshot_name": "nul\x00name"},
        {"snapshot_name": "ok", "memory": "perhaps"},
        {"snapshot_name": "ok", "quiesce": None},
        {"snapshot_name": "ok", "description": {"a": 1}},
    ],
)
def test_create_snapshot_refuses_malformed_fields(api, vm, vsphere, extra):
    response = api.post(
        f"/api/vcenter/vms/{vm.pk}/snapshots", {"action": "create", **extra}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number
    assert vc_tree(vsphere, vm) == ({}, None)


# Listing


def test_list_snapshots_of_a_vm_without_any(api, vm, django_assert_max_num_queries):
    # Savepoints count: the reads are the user, the VM, its row lock and its snapshot rows.
    with django_assert_max_num_queries(9):
        response = api.get(f"/api/vcenter/vms/{vm.pk}/snapshots")
    assert response.status_code == 200
    assert response.json()["code"] == codes.SNAPSHOT_QUERY_OK.number
    assert response.json()["data"] == {"count": 0, "current": None, "results": []}


def test_list_snapshots_as_a_tree_with_the_current_one_marked(
    api, vm, vsphere, branch, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        response = api.get(f"/api/vcenter/vms/{vm.pk}/snapshots/")
    body = response.json()
    assert body["code"] == codes.SNAPSHOT_QUERY_OK.number
    data = body["data"]
    assert (data["count"], data["current"]) == (4, branch["s4"]["snapshot_id"])
    [root] = data["results"]
    assert root["name"] == "s1"
    assert [child["name"] for child in root["children"]] == ["s2", "s4"]
    s2, s4 = root["children"]
    assert [child["name"] for child in s2["children"]] == ["s3"]
    assert (s4["is_current"], s2["is_current"], root["is_current"]) == (True, False, False)
    assert s2["parent"] == root["snapshot_id"]  # the id the snapshot routes take
    assert s4["parent"] == root["snapshot_id"]

    # The same tree, as vCenter has it.
    nodes, current = vc_tree(vsphere, vm)
    assert {name: parent for name, (_id, parent) in nodes.items()} == {
        "s1": None,
        "s2": "s1",
        "s3": "s2",
        "s4": "s1",
    }
    assert current == "s4"


def test_list_snapshots_keeps_row_ids_and_drops_what_vcenter_removed(api, vm, vsphere, branch):
    ids = {row.name: row.pk for row in Snapshot.objects.filter(vm=vm)}
    ref = vim.vm.Snapshot(branch["s3"]["moid"], vsphere.propertyCollector._stub)
    wait_for_task(vsphere, ref.RemoveSnapshot_Task(removeChildren=False))

    api.get(f"/api/vcenter/vms/{vm.pk}/snapshots")
    assert {row.name: row.pk for row in Snapshot.objects.filter(vm=vm)} == {
        name: pk for name, pk in ids.items() if name != "s3"
    }


@pytest.mark.parametrize(("vm_id", "status"), [("abc", 400), ("0", 400), ("999999", 404)])
def test_list_snapshots_answers_2331_for_a_bad_or_unknown_vm(api, vm, vm_id, status):
    response = api.get(f"/api/vcenter/vms/{vm_id}/snapshots")
    assert response.status_code == status
    assert response.json()["code"] == codes.SNAPSHOT_QUERY_FAILED.number


def test_get_one_snapshot_with_its_children(api, vm, branch):
    response = api.get(f"/api/vcenter/vms/{vm.pk}/snapshots/{branch['s2']['snapshot_id']}")
    assert response.json()["code"] == codes.SNAPSHOT_QUERY_OK.number
    assert [c["name"] for c in response.json()["data"]["children"]] == ["s3"]
    # Its `parent` names the parent as the routes do (vCenter's id, not the mirror's row).
    parent = response.json()["data"]["parent"]
    assert parent == branch["s1"]["snapshot_id"]
    response = api.get(f"/api/vcenter/vms/{vm.pk}/snapshots/{parent}")
    assert response.json()["data"]["name"] == "s1"
    response = api.get(f"/api/vcenter/vms/{vm.pk}/snapshots/4242")
    assert response.status_code == 404
    assert response.json()["code"] == codes.SNAPSHOT_NOT_FOUND.number


# Reverting


def test_revert_to_a_non_current_snapshot_runs_as_a_task(api, vm, vsphere, branch):
    response = revert(api, vm, branch["s2"]["snapshot_id"])
    assert response.status_code == 202
    body = response.json()
    assert body["code"] == codes.TASK_ACCEPTED.number

    # The TaskLog (run eagerly here) ended with the seed's code, and says so through the API.
    task_log = TaskLog.objects.get(pk=body["data"]["task_id"])
    assert (task_log.name, task_log.status) == ("vcenter.revert_snapshot", "success")
    assert task_log.code == codes.SNAPSHOT_REVERTED.number
    assert task_log.result["name"] == "s2"
    logged = api.get(f"/api/logs/tasks/{task_log.pk}").json()["data"]
    assert logged["code"] == codes.SNAPSHOT_REVERTED.number

    # vCenter's pointer moved (vcsim's revert does only that), and so did the mirror's.
    assert vc_tree(vsphere, vm)[1] == "s2"
    assert Snapshot.objects.get(vm=vm, is_current=True).name == "s2"
    assert EventLog.objects.filter(action="snapshot_reverted", object_id=str(vm.pk)).exists()

    # A snapshot taken now hangs below s2.
    create(api, vm, "s5")
    assert vc_tree(vsphere, vm)[0]["s5"][1] == "s2"


@pytest.mark.parametrize("snapshot_id", [None, "", "abc", True, -1, 10**30, [1]])
def test_revert_answers_2303_without_a_valid_snapshot_id(api, vm, vsphere, branch, snapshot_id):
    body = {"action": "revert"}
    if snapshot_id is not None:
        body["snapshot_id"] = snapshot_id
    response = api.post(f"/api/vcenter/vms/{vm.pk}/snapshots", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.SNAPSHOT_MISSING_ID.number
    assert vc_tree(vsphere, vm)[1] == "s4"
    # Only the fixture's own revert was ever queued.
    assert TaskLog.objects.filter(name="vcenter.revert_snapshot").count() == 1


def test_revert_answers_2304_for_an_unknown_snapshot(api, vm, vsphere, branch):
    response = revert(api, vm, 4242)
    assert response.status_code == 404
    assert response.json()["code"] == codes.SNAPSHOT_NOT_FOUND.number
    assert vc_tree(vsphere, vm)[1] == "s4"


def test_snapshot_post_answers_2304_for_an_unknown_vm(api, vm):
    response = api.post(
        "/api/vcenter/vms/999999/snapshots", {"action": "create", "name": "x"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == codes.SNAPSHOT_NOT_FOUND.number


def test_revert_task_ends_with_2304_when_the_snapshot_vanished(vm, vsphere):
    """The snapshot is checked when the revert is queued; if it is gone when the task runs,
    vCenter's ManagedObjectNotFound ends the TaskLog with 2304."""
    task_log = enqueue(
        device_tasks.revert_snapshot,
        name="vcenter.revert_snapshot",
        obj=vm,
        kwargs={"vm_id": vm.pk, "snapshot_moid": "snapshot-424242", "snapshot_id": 9},
    )
    task_log.refresh_from_db()
    assert (task_log.status, task_log.code) == ("failure", codes.SNAPSHOT_NOT_FOUND.number)
    assert "snapshot 9 is gone" in task_log.error


@pytest.mark.parametrize("action", [None, "", "delete", "CREATE", 7, "恢复"])
def test_snapshot_post_answers_2305_for_an_unknown_action(api, vm, vsphere, action):
    body = {"snapshot_name": "x", "snapshot_id": 1}
    if action is not None:
        body["action"] = action
    response = api.post(f"/api/vcenter/vms/{vm.pk}/snapshots", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.SNAPSHOT_BAD_ACTION.number
    assert vc_tree(vsphere, vm) == ({}, None)


def test_snapshot_post_answers_2305_for_a_body_that_is_not_an_object(api, vm):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/snapshots", ["create"], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.SNAPSHOT_BAD_ACTION.number


# Deleting


def test_delete_a_middle_snapshot_keeps_its_children(api, vm, vsphere):
    s1 = create(api, vm, "s1")
    s2 = create(api, vm, "s2")
    create(api, vm, "s3")
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/snapshots/{s2['snapshot_id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.SNAPSHOT_DELETED.number
    assert (body["data"]["removed"], body["data"]["name"]) == (1, "s2")

    nodes, current = vc_tree(vsphere, vm)
    assert {name: parent for name, (_id, parent) in nodes.items()} == {"s1": None, "s3": "s1"}
    assert current == "s3"
    rows = {row.name: row for row in Snapshot.objects.filter(vm=vm)}
    assert set(rows) == {"s1", "s3"}
    assert rows["s3"].parent_id == s1["id"]
    assert rows["s3"].is_current
    assert EventLog.objects.filter(action="snapshot_removed", object_id=str(vm.pk)).exists()


def test_delete_a_middle_snapshot_with_its_children(api, vm, vsphere, branch):
    response = api.delete(
        f"/api/vcenter/vms/{vm.pk}/snapshots/{branch['s2']['snapshot_id']}?remove_children=true"
    )
    assert response.json()["code"] == codes.SNAPSHOT_DELETED.number
    assert response.json()["data"]["removed"] == 2

    nodes, current = vc_tree(vsphere, vm)
    assert {name: parent for name, (_id, parent) in nodes.items()} == {"s1": None, "s4": "s1"}
    assert current == "s4"
    assert set(Snapshot.objects.filter(vm=vm).values_list("name", flat=True)) == {"s1", "s4"}


def test_delete_snapshot_by_body_on_the_list_route(api, vm, vsphere, branch):
    response = api.delete(
        f"/api/vcenter/vms/{vm.pk}/snapshots",
        {"snapshot_id": branch["s3"]["snapshot_id"], "remove_children": False},
        format="json",
    )
    assert response.json()["code"] == codes.SNAPSHOT_DELETED.number
    assert "s3" not in vc_tree(vsphere, vm)[0]


def test_delete_refuses_the_current_root_snapshot_while_it_has_children(api, vm, vsphere):
    """vcsim leaves the VM corrupt when the current root snapshot is removed under its
    children, so the portal refuses that with 2311 and a reason."""
    s1 = create(api, vm, "s1")
    create(api, vm, "s2")
    revert(api, vm, s1["snapshot_id"])
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/snapshots/{s1['snapshot_id']}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.SNAPSHOT_DELETE_FAILED.number
    assert "current snapshot is a root snapshot" in body["data"]["detail"]
    assert vc_tree(vsphere, vm) == ({"s1": (1, None), "s2": (2, "s1")}, "s1")

    # With its children it can go: nothing is left for the pointer to miss.
    response = api.delete(
        f"/api/vcenter/vms/{vm.pk}/snapshots/{s1['snapshot_id']}", {"remove_children": True}
    )
    assert response.json()["code"] == codes.SNAPSHOT_DELETED.number
    assert vc_tree(vsphere, vm) == ({}, None)
    assert not Snapshot.objects.filter(vm=vm).exists()
    # The VM is still healthy in vcsim: a new snapshot can be taken.
    create(api, vm, "after")
    assert vc_tree(vsphere, vm)[1] == "after"


def test_delete_refuses_a_branch_holding_the_current_snapshot(api, vm, vsphere, branch):
    """vcsim leaves the current pointer on a removed snapshot when a branch above it goes, and
    the next snapshot crashes it; the portal refuses with 2311 and says to revert first."""
    revert(api, vm, branch["s3"]["snapshot_id"])
    response = api.delete(
        f"/api/vcenter/vms/{vm.pk}/snapshots/{branch['s2']['snapshot_id']}?remove_children=1"
    )
    assert response.status_code == 409
    assert response.json()["code"] == codes.SNAPSHOT_DELETE_FAILED.number
    assert "revert to a snapshot outside it" in response.json()["data"]["detail"]
    assert set(vc_tree(vsphere, vm)[0]) == {"s1", "s2", "s3", "s4"}


def test_delete_the_current_leaf_snapshot_moves_current_to_its_parent(api, vm, vsphere, branch):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/snapshots/{branch['s4']['snapshot_id']}")
    assert response.json()["code"] == codes.SNAPSHOT_DELETED.number
    assert vc_tree(vsphere, vm)[1] == "s1"
    assert Snapshot.objects.get(vm=vm, is_current=True).name == "s1"


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [("abc", "", 400), ("-1", "", 400), ("1", "?remove_children=maybe", 400)],
)
def test_delete_snapshot_answers_2311_for_bad_input(api, vm, vsphere, branch, path, query, status):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/snapshots/{path}{query}")
    assert response.status_code == status
    assert response.json()["code"] == codes.SNAPSHOT_DELETE_FAILED.number
    assert len(vc_tree(vsphere, vm)[0]) == 4


def test_delete_snapshot_answers_2304_for_an_unknown_snapshot_or_vm(api, vm, branch):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/snapshots/4242")
    assert response.status_code == 404
    assert response.json()["code"] == codes.SNAPSHOT_NOT_FOUND.number
    response = api.delete("/api/vcenter/vms/999999/snapshots/1")
    assert response.status_code == 404
    assert response.json()["code"] == codes.SNAPSHOT_NOT_FOUND.number


# Permissions


def test_snapshot_changes_need_the_snapshot_permission(vm, vsphere):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_virtualmachine"))
    client = api_client_for(user)
    assert client.get(f"/api/vcenter/vms/{vm.pk}/snapshots").status_code == 200
    body = {"action": "create", "snapshot_name": "x"}
    response = client.post(f"/api/vcenter/vms/{vm.pk}/snapshots", body, format="json")
    assert response.status_code == 403
    assert vc_tree(vsphere, vm) == ({}, None)

    user.user_permissions.add(Permission.objects.get(codename="snapshot_virtualmachine"))
    client = api_client_for(type(user).objects.get(pk=user.pk))
    response = client.post(f"/api/vcenter/vms/{vm.pk}/snapshots", body, format="json")
    assert response.status_code == 201
    assert set(vc_tree(vsphere, vm)[0]) == {"x"}


# With a real worker


@pytest.mark.worker
def test_worker_reverts_a_snapshot(celery_worker, fresh_platform, vsphere, admin_user):
    wait_for_task_log(services.start_sync(fresh_platform).pk)
    vm = VirtualMachine.objects.get(platform=fresh_platform, name="DC0_H0_VM0")
    api = api_client_for(admin_user)
    first = create(api, vm, "first")
    create(api, vm, "second")

    response = revert(api, vm, first["snapshot_id"])
    assert response.status_code == 202
    task_log = wait_for_task_log(response.json()["data"]["task_id"])
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.SNAPSHOT_REVERTED.number
    assert vc_tree(vsphere, vm)[1] == "first"
