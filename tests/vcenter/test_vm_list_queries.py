"""The VM list costs as many SQL queries for a page of 100 rows as for a page of one (#9).

The inventory comes from a real simulator of 120 VMs, mirrored by the sync, so every row has
its host, cluster, pool, folder, datastores and networks filled: a serializer that read one of
them lazily would add queries per row and fail these tests. `bench/api.py` measures the same
list's throughput; timings are never asserted here.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kstack_naguan.api import codes
from kstack_naguan.testing.vcsim import Simulator
from tests.conftest import VCSIM_PASSWORD, VCSIM_USER, api_client_for
from tests.factories import CloudPlatformFactory, UserFactory
from vcenter.api.serializers import VirtualMachineSerializer
from vcenter.api.views import VirtualMachineViewSet
from vcenter.models import VirtualMachine
from vcenter.sync import sync_platform

pytestmark = [pytest.mark.django_db, pytest.mark.vcsim]

# Authentication, the count, the page, two prefetches (datastores, networks), the request log
# row and the permission lookups of a non-superuser stay well below this.
MAX_QUERIES = 12


@pytest.fixture(scope="module")
def vcsim_120():
    """A simulator of 120 VMs: 60 on the standalone host and 60 in the cluster."""
    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD, vm=60) as sim:
        yield sim


@pytest.fixture
def synced_120(vcsim_120):
    platform = CloudPlatformFactory.for_simulator(vcsim_120, name="sim-120")
    sync_platform(platform)
    assert VirtualMachine.objects.filter(platform=platform).count() == 120
    return platform


@pytest.fixture
def operator_api(db):
    """A signed-in user who may only view VMs, through a role (a group), not a superuser."""
    role = Group.objects.create(name="vm viewers")
    role.permissions.add(Permission.objects.get(codename="view_virtualmachine"))
    user = UserFactory(username="operator")
    user.groups.add(role)
    return api_client_for(user)


def _list(client, page_size, **params):
    """GET the VM list; return the number of SQL queries it ran and its page of rows."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/vcenter/vms", {"page_size": page_size, **params})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.VM_QUERY_OK.number
    return len(queries.captured_queries), body["data"]


def test_list_vms_runs_the_same_queries_for_1_and_100_rows(api, synced_120):
    one_count, one = _list(api, 1)
    hundred_count, hundred = _list(api, 100)

    assert len(one["results"]) == 1
    assert len(hundred["results"]) == 100
    assert hundred["count"] == 120
    assert all(vm["host_name"] and vm["datastore_names"] for vm in hundred["results"])
    assert all(vm["network_names"] for vm in hundred["results"])
    assert one_count == hundred_count
    assert hundred_count <= MAX_QUERIES


def test_list_vms_runs_the_same_queries_for_an_operator_with_a_role(operator_api, synced_120):
    one_count, one = _list(operator_api, 1)
    hundred_count, hundred = _list(operator_api, 100)

    assert len(one["results"]) == 1
    assert len(hundred["results"]) == 100
    assert one_count == hundred_count
    assert hundred_count <= MAX_QUERIES


def test_list_vms_runs_the_same_queries_with_filter_search_and_ordering(api, synced_120):
    params = {"power_state": "poweredOn", "search": "VM", "ordering": "-memory_mb"}
    one_count, one = _list(api, 1, **params)
    hundred_count, hundred = _list(api, 100, **params)

    assert len(one["results"]) == 1
    assert len(hundred["results"]) == 100
    assert {vm["power_state"] for vm in hundred["results"]} == {"poweredOn"}
    assert one_count == hundred_count
    assert hundred_count <= MAX_QUERIES


def test_list_vms_runs_the_same_queries_on_a_later_page(api, synced_120):
    first_count, _ = _list(api, 100)
    last_count, last = _list(api, 100, page=2)

    assert len(last["results"]) == 20
    assert last["page"] == 2
    assert first_count == last_count


def test_list_vms_shows_each_vm_as_its_detail_serializer_does(api, synced_120):
    """The list reads plain rows for speed; every row must still equal the serializer's view."""
    vm = VirtualMachine.objects.filter(platform=synced_120).order_by("pk").first()
    VirtualMachine.objects.filter(pk=vm.pk).update(name="web%2f01 %25 ü", ip_addresses=["10.0.0.9"])
    vm.networks.clear()

    _, page = _list(api, 200)

    vms = VirtualMachineViewSet.queryset.filter(platform=synced_120).order_by("name", "id")
    assert page["results"] == [VirtualMachineSerializer(vm).data for vm in vms]
    renamed = next(row for row in page["results"] if row["id"] == vm.pk)
    assert renamed["name"] == "web/01 % ü"
    assert renamed["ip_addresses"] == ["10.0.0.9"]
    assert renamed["network_names"] == []
    assert renamed["synced_at"].endswith("Z")
