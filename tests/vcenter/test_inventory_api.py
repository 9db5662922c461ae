"""Inventory lists on a synced simulator: datastores (2440/2441), port groups (2460/2461) and
resource pools (2470/2471), checked against what vCenter says through pyVmomi."""

import time

import pytest
from pyVim.connect import Disconnect
from pyVmomi import vim

from kstack_naguan.api import codes
from tests.conftest import api_client_for, vsphere_content
from tests.factories import CloudPlatformFactory, UserFactory
from vcenter import services
from vcenter.models import Datacenter, Datastore, Host, Network, ResourcePool

pytestmark = pytest.mark.django_db

BAD_ID_VALUES = ["abc", "999999", "-1", "1.5", "名字", "9" * 30, "1 OR 1=1"]


@pytest.fixture
def synced(platform):
    task_log = services.start_sync(platform)
    task_log.refresh_from_db()
    assert task_log.status == "success", task_log.error
    return platform


def objects_of(content, vim_type):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        return list(view.view)
    finally:
        view.Destroy()


def wait(task):
    while task.info.state not in ("success", "error"):
        time.sleep(0.05)
    assert task.info.state == "success", task.info.error
    return task.info.result


def results(response, code):
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["code"] == code.number
    assert set(body["data"]) == {"count", "page", "page_size", "results"}
    return body["data"]["results"]


# Datastores


def test_list_datastores_matches_vcenter(api, synced, vcsim):
    rows = results(api.get("/api/vcenter/datastores"), codes.DATASTORE_QUERY_OK)

    si, content = vsphere_content(vcsim)
    try:
        hosts = objects_of(content, vim.HostSystem)
        expected = {
            ds.name: {
                "moid": ds._moId,
                "capacity_bytes": ds.summary.capacity,
                "free_bytes": ds.summary.freeSpace,
                "accessible": ds.summary.accessible,
                # A datastore's mounts, as it and as the hosts report them (vcsim lists one).
                "hosts": sorted(
                    {mount.key.name for mount in ds.host}
                    | {host.name for host in hosts if ds in host.datastore}
                ),
                "vm_count": len(ds.vm),
            }
            for ds in objects_of(content, vim.Datastore)
        }
    finally:
        Disconnect(si)
    got = {
        row["name"]: {
            "moid": row["moid"],
            "capacity_bytes": row["capacity_bytes"],
            "free_bytes": row["free_bytes"],
            "accessible": row["accessible"],
            "hosts": sorted(host["name"] for host in row["hosts"]),
            "vm_count": row["vm_count"],
        }
        for row in rows
    }
    assert got == expected
    assert all(row["datacenter_name"] == "DC0" for row in rows)
    assert rows[0]["used_bytes"] == rows[0]["capacity_bytes"] - rows[0]["free_bytes"]


def test_list_datastores_filters_by_platform_datacenter_and_host(api, synced):
    datastore = Datastore.objects.get(platform=synced)
    mounting = datastore.hosts.first()
    # Every host of the simulator mounts its one datastore: unmount one in the mirror.
    other_host = datastore.hosts.last()
    datastore.hosts.remove(other_host)
    datacenter = Datacenter.objects.get(platform=synced)
    other_platform = CloudPlatformFactory(name="empty")

    def names(**params):
        response = api.get("/api/vcenter/datastores", params)
        return [row["name"] for row in results(response, codes.DATASTORE_QUERY_OK)]

    assert names(platform=synced.pk) == [datastore.name]
    assert names(platform=other_platform.pk) == []
    assert names(datacenter=datacenter.pk) == [datastore.name]
    assert names(host=mounting.pk) == [datastore.name]
    assert names(host=other_host.pk) == []
    assert names(platform=synced.pk, host=mounting.pk, name="localds") == [datastore.name]


@pytest.mark.parametrize("field", ["platform", "datacenter", "host"])
@pytest.mark.parametrize("value", BAD_ID_VALUES)
def test_list_datastores_rejects_bad_filter_with_2441(api, synced, field, value):
    response = api.get("/api/vcenter/datastores", {field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.DATASTORE_BAD_PARAMS.number
    assert field in body["data"]["errors"]


def test_list_datastores_query_count_does_not_grow_with_page_size(
    api, synced, django_assert_max_num_queries
):
    for page_size in (1, 100):
        with django_assert_max_num_queries(8):
            assert api.get("/api/vcenter/datastores", {"page_size": page_size}).status_code == 200


# Port groups


def test_list_port_groups_shows_vlan_switch_and_hosts(api, fresh_platform, vcsim_fresh, vsphere):
    # A distributed port group on VLAN 100, made in vCenter before the sync.
    [dvs] = objects_of(vsphere, vim.DistributedVirtualSwitch)
    vlan = vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec(vlanId=100, inherited=False)
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        name="VLAN100",
        type="earlyBinding",
        numPorts=8,
        defaultPortConfig=vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(vlan=vlan),
    )
    wait(dvs.AddDVPortgroup_Task([spec]))
    services.start_sync(fresh_platform)

    rows = {
        row["name"]: row
        for row in results(api.get("/api/vcenter/port-groups"), codes.PORT_GROUP_QUERY_OK)
    }
    all_hosts = sorted(host.name for host in objects_of(vsphere, vim.HostSystem))

    # Distributed: VLAN, switch and hosts as the port group's config has them.
    for pg in objects_of(vsphere, vim.dvs.DistributedVirtualPortgroup):
        row = rows[pg.name]
        assert row["kind"] == "distributed"
        assert row["switch"] == dvs.name
        assert row["switch_moid"] == dvs._moId
        assert row["switch_uuid"] == dvs.uuid
        assert row["portgroup_key"] == pg.key
        assert sorted(host["name"] for host in row["hosts"]) == sorted(h.name for h in pg.host)
    assert rows["VLAN100"]["vlan_id"] == 100
    assert rows["DC0_DVPG0"]["vlan_id"] == 0
    uplinks = next(name for name in rows if "DVUplinks" in name)
    assert rows[uplinks]["is_uplink"] is True
    assert rows[uplinks]["vlan_id"] is None  # a trunk range, not one VLAN

    # Standard: VLAN and vSwitch from the hosts' own port group configuration.
    host = objects_of(vsphere, vim.HostSystem)[0]
    config = next(pg for pg in host.config.network.portgroup if pg.spec.name == "VM Network")
    standard = rows["VM Network"]
    assert standard["kind"] == "standard"
    assert standard["vlan_id"] == config.spec.vlanId
    assert standard["switch"] == config.spec.vswitchName == "vSwitch0"
    assert sorted(h["name"] for h in standard["hosts"]) == all_hosts
    assert rows["DC0_DVPG0"]["vm_count"] == vcsim_fresh.expected_vm_count


def test_standard_port_group_vlan_follows_most_hosts():
    """vcsim implements neither UpdatePortGroup nor per-host VLANs, so the hosts' port group
    configuration here is built from pyVmomi's own data objects, as vCenter would send it."""
    from vcenter.sync import Inventory, build_rows

    def host(moid, vlan):
        spec = vim.host.PortGroup.Specification(name="Prod", vlanId=vlan, vswitchName="vSwitch1")
        return {
            "_type": "HostSystem",
            "_moid": moid,
            "name": moid,
            "parent": "domain-s1",
            "network": ["network-1"],
            "config.network.portgroup": [vim.host.PortGroup(spec=spec)],
        }

    items = [
        {"_type": "Datacenter", "_moid": "datacenter-1", "name": "DC", "parent": "group-d1"},
        {"_type": "Folder", "_moid": "group-n1", "name": "network", "parent": "datacenter-1"},
        {"_type": "Network", "_moid": "network-1", "name": "Prod", "parent": "group-n1"},
        host("host-1", 42),
        host("host-2", 42),
        host("host-3", 7),
    ]
    row = build_rows(Inventory(items))[Network]["network-1"]
    assert row["vlan_id"] == 42
    assert row["switch_moid"] == "vSwitch1"


def test_list_port_groups_filters_by_host_kind_and_vlan(api, synced):
    host = Host.objects.filter(platform=synced).first()

    def names(**params):
        response = api.get("/api/vcenter/port-groups", params)
        return sorted(row["name"] for row in results(response, codes.PORT_GROUP_QUERY_OK))

    every = names(platform=synced.pk)
    assert names(host=host.pk) == every  # every host carries every port group in vcsim
    assert names(kind="standard") == ["VM Network"]
    assert names(vlan_id=0) == ["DC0_DVPG0", "VM Network"]
    assert names(is_uplink="false", kind="distributed") == ["DC0_DVPG0"]


@pytest.mark.parametrize(
    "params",
    [
        {"platform": "abc"},
        {"platform": "424242"},
        {"datacenter": "x"},
        {"host": "999999"},
        {"host": "9" * 30},
        {"kind": "bogus"},
        {"vlan_id": "ten"},
    ],
)
def test_list_port_groups_rejects_bad_filter_with_2461(api, synced, params):
    response = api.get("/api/vcenter/port-groups", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.PORT_GROUP_QUERY_FAILED.number
    assert set(params) <= set(body["data"]["errors"])


def test_list_port_groups_query_count_does_not_grow_with_page_size(
    api, synced, django_assert_max_num_queries
):
    for page_size in (1, 100):
        with django_assert_max_num_queries(8):
            assert api.get("/api/vcenter/port-groups", {"page_size": page_size}).status_code == 200


# Resource pools


def allocation(limit, reservation):
    return vim.ResourceAllocationInfo(
        limit=limit,
        reservation=reservation,
        expandableReservation=False,
        shares=vim.SharesInfo(level="normal", shares=0),
    )


def test_list_resource_pools_as_tree_with_limits(api, fresh_platform, vsphere):
    cluster = vsphere.searchIndex.FindByInventoryPath("DC0/host/DC0_C0")
    gold = cluster.resourcePool.CreateResourcePool(
        "Gold",
        vim.ResourceConfigSpec(
            cpuAllocation=allocation(2000, 500), memoryAllocation=allocation(4096, 1024)
        ),
    )
    gold.CreateResourcePool(
        "Gold-dev",
        vim.ResourceConfigSpec(cpuAllocation=allocation(-1, 0), memoryAllocation=allocation(-1, 0)),
    )
    vm = vsphere.searchIndex.FindByInventoryPath("DC0/vm/DC0_C0_RP0_VM0")
    wait(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(pool=gold)))
    services.start_sync(fresh_platform)

    rows = results(api.get("/api/vcenter/resource-pools"), codes.RESOURCE_POOL_QUERY_OK)
    owners = {(row["owner"]["type"], row["owner"]["name"]): row for row in rows}
    assert set(owners) == {("cluster", "DC0_C0"), ("host", "DC0_H0")}

    root = owners[("cluster", "DC0_C0")]
    assert root["moid"] == cluster.resourcePool._moId
    assert root["vm_count"] == 1  # DC0_C0_RP0_VM1 stayed in the root pool
    [gold_row] = root["children"]
    assert gold_row["moid"] == gold._moId
    assert (gold_row["cpu_limit"], gold_row["cpu_reservation"]) == (2000, 500)
    assert (gold_row["memory_limit"], gold_row["memory_reservation"]) == (4096, 1024)
    assert gold_row["vm_count"] == 1
    [dev] = gold_row["children"]
    assert (dev["name"], dev["cpu_limit"], dev["memory_limit"], dev["children"]) == (
        "Gold-dev",
        -1,
        -1,
        [],
    )
    assert owners[("host", "DC0_H0")]["children"] == []


def test_list_resource_pools_filters_by_host_and_cluster(api, synced):
    clustered = Host.objects.filter(platform=synced, cluster__isnull=False).first()
    standalone = Host.objects.get(platform=synced, cluster__isnull=True)

    def owners(**params):
        response = api.get("/api/vcenter/resource-pools", params)
        return [row["owner"]["name"] for row in results(response, codes.RESOURCE_POOL_QUERY_OK)]

    assert owners(host=clustered.pk) == [clustered.cluster.name]
    assert owners(host=standalone.pk) == [standalone.name]
    assert owners(cluster=clustered.cluster_id) == [clustered.cluster.name]
    assert sorted(owners(platform=synced.pk)) == sorted([clustered.cluster.name, standalone.name])


@pytest.mark.parametrize("field", ["platform", "datacenter", "cluster", "host"])
@pytest.mark.parametrize("value", ["abc", "999999", "9" * 30, "名字"])
def test_list_resource_pools_rejects_bad_filter_with_2471(api, synced, field, value):
    response = api.get("/api/vcenter/resource-pools", {field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.RESOURCE_POOL_BAD_PARAMS.number
    assert field in body["data"]["errors"]


def test_list_resource_pools_query_count_does_not_grow_with_pools(
    api, fresh_platform, vsphere, django_assert_max_num_queries
):
    services.start_sync(fresh_platform)
    with django_assert_max_num_queries(9):
        assert api.get("/api/vcenter/resource-pools").status_code == 200

    cluster = vsphere.searchIndex.FindByInventoryPath("DC0/host/DC0_C0")
    spec = vim.ResourceConfigSpec(
        cpuAllocation=allocation(-1, 0), memoryAllocation=allocation(-1, 0)
    )
    for index in range(5):
        pool = cluster.resourcePool.CreateResourcePool(f"pool-{index}", spec)
        pool.CreateResourcePool(f"pool-{index}-child", spec)
    services.start_sync(fresh_platform)
    assert ResourcePool.objects.filter(platform=fresh_platform).count() == 12
    with django_assert_max_num_queries(9):
        assert api.get("/api/vcenter/resource-pools").status_code == 200


# Permissions


@pytest.mark.parametrize(
    "url",
    [
        "/api/vcenter/datastores",
        "/api/vcenter/images",
        "/api/vcenter/port-groups",
        "/api/vcenter/resource-pools",
        "/api/vcenter/tree",
    ],
)
def test_inventory_lists_refuse_anonymous_and_unprivileged_users(anon_api, url):
    anonymous = anon_api.get(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == codes.NOT_AUTHENTICATED.number
    refused = api_client_for(UserFactory()).get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == codes.PERMISSION_DENIED.number
