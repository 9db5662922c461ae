"""The inventory tree (2430/2431): datacenter → folder → cluster → host → resource pool → VM,
for one platform or all, with a query count that does not grow with the inventory."""

import time

import pytest
from pyVim.connect import Disconnect
from pyVmomi import vim

from kstack_naguan.api import codes
from kstack_naguan.testing.vcsim import Simulator
from tests.conftest import VCSIM_PASSWORD, VCSIM_USER, vsphere_content
from tests.factories import CloudPlatformFactory
from vcenter import services
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def walk(node, path=()):
    """Yield (path of types, node) for every node below `node`."""
    for child in node.get("children", []):
        here = (*path, child["type"])
        yield here, child
        yield from walk(child, here)


def wait(task):
    while task.info.state not in ("success", "error"):
        time.sleep(0.05)
    assert task.info.state == "success", task.info.error


def sync(platform):
    task_log = services.start_sync(platform)
    task_log.refresh_from_db()
    assert task_log.status == "success", task_log.error


def test_tree_nests_folder_cluster_host_pool_and_vm(api, db):
    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD, folder=1, pool=1) as sim:
        # Move one clustered VM into the cluster's child pool, as an operator would.
        si, content = vsphere_content(sim)
        try:
            cluster = content.searchIndex.FindByInventoryPath("F0/DC0/host/F0/DC0_C0")
            [pool] = cluster.resourcePool.resourcePool
            vm = content.searchIndex.FindByInventoryPath("F0/DC0/vm/F0/DC0_C0_RP0_VM0")
            wait(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(pool=pool)))
            pool_name, pool_moid = pool.name, pool._moId
        finally:
            Disconnect(si)
        platform = CloudPlatformFactory.for_simulator(sim, name="folders")
        sync(platform)

        body = api.get("/api/vcenter/tree", {"platform": platform.pk}).json()
    assert body["code"] == codes.TREE_OK.number
    [top] = body["data"]
    assert (top["type"], top["name"]) == ("platform", "folders")
    [dc] = top["children"]
    nodes = {node["name"]: (path, node) for path, node in walk(dc)}

    # The host folder F0 holds the cluster; the cluster holds its hosts and its child pool.
    assert nodes["F0"][0] == ("folder",)
    assert nodes["DC0_C0"][0] == ("folder", "cluster")
    assert nodes["DC0_C0_H0"][0] == ("folder", "cluster", "host")
    assert nodes[pool_name][0] == ("folder", "cluster", "resource_pool")
    assert nodes[pool_name][1]["moid"] == pool_moid

    # A VM sits in its pool, or under its host when it is in the root pool; each appears once.
    assert nodes["DC0_C0_RP0_VM0"][0] == ("folder", "cluster", "resource_pool", "vm")
    assert nodes["DC0_C0_RP0_VM1"][0] == ("folder", "cluster", "host", "vm")
    vm_nodes = [node for path, node in walk(dc) if node["type"] == "vm"]
    assert len(vm_nodes) == len({node["id"] for node in vm_nodes}) == sim.expected_vm_count
    assert "Resources" not in nodes  # the root pools are not shown


def test_tree_covers_one_platform_or_all(api, db, vcsim):
    first = CloudPlatformFactory.for_simulator(vcsim, name="first")
    second = CloudPlatformFactory.for_simulator(vcsim, name="second")
    sync(first)
    sync(second)

    every = api.get("/api/vcenter/tree").json()
    assert every["code"] == codes.TREE_OK.number
    assert [node["name"] for node in every["data"]] == ["first", "second"]
    one = api.get("/api/vcenter/tree", {"platform": second.pk}).json()
    assert [node["id"] for node in one["data"]] == [second.pk]
    vm_ids = {node["id"] for _path, node in walk(one["data"][0]) if node["type"] == "vm"}
    assert vm_ids == set(
        VirtualMachine.objects.filter(platform=second).values_list("id", flat=True)
    )


def test_tree_of_unknown_platform_answers_2431(api, db):
    response = api.get("/api/vcenter/tree", {"platform": 424242})
    assert response.status_code == 404
    assert response.json()["code"] == codes.TREE_FAILED.number


@pytest.mark.parametrize("value", ["abc", "-1", "1.0", "名字", "9" * 40, "١٢"])
def test_tree_rejects_malformed_platform_with_2431(api, db, value):
    response = api.get("/api/vcenter/tree", {"platform": value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.TREE_FAILED.number
    assert "platform" in body["data"]["errors"]


# The number of queries does not depend on how many objects the tree holds.
TREE_QUERIES = 11  # 7 for the tree, 4 for authentication and the request log


@pytest.mark.parametrize("vm", [2, 20])
def test_tree_query_count_does_not_grow_with_vms(api, db, vm, django_assert_max_num_queries):
    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD, vm=vm, pool=2) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name=f"size-{vm}")
        sync(platform)
    assert VirtualMachine.objects.count() == sim.expected_vm_count == 2 * vm

    with django_assert_max_num_queries(TREE_QUERIES):
        body = api.get("/api/vcenter/tree").json()
    vms = [node for _path, node in walk(body["data"][0]) if node["type"] == "vm"]
    assert len(vms) == 2 * vm
    with django_assert_max_num_queries(TREE_QUERIES):
        api.get("/api/vcenter/tree", {"platform": platform.pk})


def test_tree_shows_names_as_typed_not_as_vsphere_escapes_them(api, platform):
    from vcenter.models import VirtualMachine
    from vcenter.services import start_sync

    start_sync(platform)
    VirtualMachine.objects.filter(name="DC0_H0_VM0").update(name="web%2fdb 50%25")
    body = api.get("/api/vcenter/tree").json()
    text = str(body["data"])
    assert "web/db 50%" in text
    assert "%2f" not in text
