import pytest

from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import UserFactory
from vcenter import services
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(platform):
    services.start_sync(platform)
    return platform


def test_vm_list_returns_exactly_the_simulators_vms(api, synced, vcsim):
    response = api.get("/api/vcenter/vms")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.VM_QUERY_OK.number
    assert body["data"]["count"] == vcsim.expected_vm_count
    names = {vm["name"] for vm in body["data"]["results"]}
    assert names == {"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}
    assert set(body["data"]) == {"count", "page", "page_size", "results"}


def test_vm_list_filters_by_power_state_name_and_platform(api, synced):
    VirtualMachine.objects.filter(name="DC0_H0_VM0").update(power_state="poweredOff")
    off = api.get("/api/vcenter/vms", {"power_state": "poweredOff"}).json()["data"]
    assert [vm["name"] for vm in off["results"]] == ["DC0_H0_VM0"]
    by_name = api.get("/api/vcenter/vms", {"name": "rp0"}).json()["data"]
    assert by_name["count"] == 2
    assert api.get("/api/vcenter/vms", {"platform": synced.pk + 1000}).json()["data"]["count"] == 0


def test_vm_list_query_count_does_not_grow_with_page_size(
    api, synced, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        assert api.get("/api/vcenter/vms", {"page_size": 1}).status_code == 200
    with django_assert_max_num_queries(8):
        assert api.get("/api/vcenter/vms", {"page_size": 100}).status_code == 200


def test_vm_detail_and_unknown_vm(api, synced):
    vm = VirtualMachine.objects.get(name="DC0_H0_VM0")
    body = api.get(f"/api/vcenter/vms/{vm.pk}").json()
    assert body["code"] == codes.VM_QUERY_OK.number
    assert body["data"]["host_name"] == vm.host.name
    assert body["data"]["datastore_names"] == ["LocalDS_0"]
    missing = api.get("/api/vcenter/vms/999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == codes.VM_QUERY_FAILED.number


def test_vm_list_is_refused_without_permission(synced):
    response = api_client_for(UserFactory()).get("/api/vcenter/vms")
    assert response.status_code == 403
    assert response.json()["code"] == codes.PERMISSION_DENIED.number


def test_tree_nests_datacenter_cluster_host_vm(api, synced, vcsim):
    body = api.get("/api/vcenter/tree").json()
    assert body["code"] == codes.TREE_OK.number
    [platform_node] = body["data"]
    [dc] = platform_node["children"]
    assert dc["name"] == "DC0"
    cluster = next(node for node in dc["children"] if node["type"] == "cluster")
    assert len(cluster["children"]) == 3
    vm_names = {
        vm["name"]
        for node in dc["children"]
        for host in (node["children"] if node["type"] == "cluster" else [node])
        for vm in host["children"]
    }
    assert len(vm_names) == vcsim.expected_vm_count


def test_tree_rejects_a_malformed_platform(api):
    response = api.get("/api/vcenter/tree", {"platform": "abc"})
    assert response.status_code == 400
    assert response.json()["code"] == codes.TREE_FAILED.number


def test_sync_endpoint_answers_202_with_task_log(api, platform):
    response = api.post("/api/vcenter/sync", {"platform": platform.pk}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["code"] == codes.TASK_ACCEPTED.number
    task_id = body["data"][0]["task_id"]
    log = api.get(f"/api/logs/tasks/{task_id}").json()
    assert log["code"] == codes.TASK_LOG_QUERY_OK.number
    assert log["data"]["status"] == "success"
    assert log["data"]["code"] == codes.SYNC_OK.number
    assert VirtualMachine.objects.filter(platform=platform).exists()


def test_sync_endpoint_rejects_unknown_platform(api):
    response = api.post("/api/vcenter/sync", {"platform": 4242}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.SYNC_FAILED.number


def test_sync_endpoint_requires_sync_permission(platform):
    client = api_client_for(UserFactory())
    response = client.post("/api/vcenter/sync", {"platform": platform.pk}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("value", ["9" * 30, "1.5", "-1", "abc"])
def test_vm_list_rejects_malformed_id_filters(api, synced, value):
    response = api.get("/api/vcenter/vms", {"platform": value})
    assert response.status_code == 400
    assert response.json()["code"] == codes.VM_QUERY_FAILED.number
    assert "platform" in response.json()["data"]["errors"]


def test_vm_search_finds_names_as_typed(api, synced):
    VirtualMachine.objects.filter(name="DC0_H0_VM0").update(name="web%2fdb 50%25")
    for term in ("web/db", "50%", "b 50"):
        data = api.get("/api/vcenter/vms", {"search": term}).json()["data"]
        assert [vm["name"] for vm in data["results"]] == ["web/db 50%"], term


def test_admin_shows_and_searches_names_as_typed(client, admin_user, synced):
    VirtualMachine.objects.filter(name="DC0_H0_VM0").update(name="web%2fdb")
    client.force_login(admin_user)
    page = client.get("/admin/vcenter/virtualmachine/", {"q": "web/db"}).content.decode()
    assert "web/db" in page
    assert "web%2fdb" not in page
    assert "1 virtual machine" in page or "1 个" in page
