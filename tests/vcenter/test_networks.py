"""A VM's network adapters through `/api/vcenter/vms/{id}/networks/`, checked in vcsim."""

import pytest
from django.contrib.auth.models import Permission
from pyVmomi import vim

from audit.models import EventLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import UserFactory
from vcenter import services
from vcenter.client.inventory import retrieve_one
from vcenter.models import Network, VirtualMachine

pytestmark = [pytest.mark.django_db, pytest.mark.vcsim]


@pytest.fixture
def vm(fresh_platform):
    """DC0_H0_VM0 of a freshly synced simulator: one E1000 adapter on the DVS port group."""
    services.start_sync(fresh_platform)
    return VirtualMachine.objects.get(platform=fresh_platform, name="DC0_H0_VM0")


def vc_nics(content, vm):
    ref = vim.VirtualMachine(vm.moid, content.propertyCollector._stub)
    devices = retrieve_one(content, ref, ["config.hardware.device"])["config.hardware.device"]
    return [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]


def add(api, vm, **body):
    return api.post(f"/api/vcenter/vms/{vm.pk}/networks", body, format="json")


# Listing


def test_list_network_adapters_with_mac_type_state_and_port_group(
    api, vm, vsphere, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = api.get(f"/api/vcenter/vms/{vm.pk}/networks/")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.NIC_QUERY_OK.number
    [expected] = vc_nics(vsphere, vm)
    [nic] = body["data"]["results"]
    assert nic["key"] == expected.key
    assert nic["mac_address"] == expected.macAddress
    assert nic["adapter_type"] == "e1000"
    assert nic["connected"] is expected.connectable.connected
    assert nic["kind"] == "distributed"
    assert nic["port_group"] == "DC0_DVPG0"
    assert nic["network"] == Network.objects.get(name="DC0_DVPG0").pk


@pytest.mark.parametrize("vm_id", ["abc", "0", "-1"])
def test_list_network_adapters_answers_2231_for_bad_input(api, vm, vm_id):
    response = api.get(f"/api/vcenter/vms/{vm_id}/networks")
    assert response.status_code == 400
    assert response.json()["code"] == codes.NIC_QUERY_BAD_PARAMS.number
    response = api.get(f"/api/vcenter/vms/{vm.pk}/networks", {"page": "last-but-one"})
    assert response.status_code == 400
    assert response.json()["code"] == codes.NIC_QUERY_BAD_PARAMS.number


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("get", "networks", codes.NIC_QUERY_BAD_PARAMS),
        ("post", "networks", codes.NIC_BAD_PARAMS),
        ("delete", "networks", codes.NIC_NOT_FOUND),
        ("delete", "networks/4000", codes.NIC_NOT_FOUND),
    ],
)
def test_network_routes_answer_404_with_their_code_for_an_unknown_vm(api, vm, method, path, code):
    body = {"network": "VM Network", "key": 4000}
    response = getattr(api, method)(f"/api/vcenter/vms/999999/{path}", body, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == code.number


# Adding


def test_add_vmxnet3_adapter_on_a_standard_port_group_by_name(api, vm, vsphere):
    response = add(api, vm, network="VM Network", adapter_type="vmxnet3")
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == codes.NIC_ADDED.number
    nic = body["data"]
    assert nic["adapter_type"] == "vmxnet3"
    assert nic["kind"] == "standard"
    assert nic["port_group"] == "VM Network"
    assert nic["mac_address"]

    added = next(d for d in vc_nics(vsphere, vm) if d.key == nic["key"])
    assert isinstance(added, vim.vm.device.VirtualVmxnet3)
    assert added.backing.deviceName == "VM Network"
    assert added.backing.network._moId == Network.objects.get(name="VM Network").moid
    assert added.macAddress == nic["mac_address"]
    assert EventLog.objects.filter(action="nic_added", object_id=str(vm.pk)).exists()
    # The mirror was refreshed: the VM now lists the standard network too.
    assert "VM Network" in {n.name for n in VirtualMachine.objects.get(pk=vm.pk).networks.all()}


def test_add_e1000e_adapter_on_a_distributed_port_group_by_id(api, vm, vsphere):
    network = Network.objects.get(platform=vm.platform, name="DC0_DVPG0")
    response = add(api, vm, network=network.pk, adapter_type="e1000e", connected=False)
    assert response.status_code == 201
    nic = response.json()["data"]
    assert (nic["adapter_type"], nic["kind"], nic["network"]) == (
        "e1000e",
        "distributed",
        network.pk,
    )

    added = next(d for d in vc_nics(vsphere, vm) if d.key == nic["key"])
    assert isinstance(added, vim.vm.device.VirtualE1000e)
    assert added.backing.port.portgroupKey == network.portgroup_key
    assert added.backing.port.switchUuid == network.switch_uuid
    assert added.connectable.startConnected is False
    assert len(vc_nics(vsphere, vm)) == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"network": None},
        {"network": ""},
        {"network": "No Such Network"},
        {"network": "网络不存在"},
        {"network": 999999},
        {"network": 10**30},
        {"network": True},
        {"network": ["VM Network"]},
        {"network": "VM Network", "adapter_type": "e1000"},
        {"network": "VM Network", "adapter_type": "vmxnet3 "},
        {"network": "VM Network", "adapter_type": 3},
        {"network": "VM Network", "connected": "maybe"},
        {"network": "DVS0-DVUplinks-9"},
        {"network": "VM\x00Network"},
    ],
)
def test_add_network_adapter_answers_2201_for_bad_input(api, vm, vsphere, body):
    response = api.post(f"/api/vcenter/vms/{vm.pk}/networks", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.NIC_BAD_PARAMS.number
    assert response.json()["data"]["errors"]
    assert len(vc_nics(vsphere, vm)) == 1


def test_add_network_adapter_answers_2201_for_another_platforms_port_group(api, vm, platform):
    services.start_sync(platform)
    other = Network.objects.get(platform=platform, name="VM Network")
    response = add(api, vm, network=other.pk)
    assert response.status_code == 400
    assert response.json()["code"] == codes.NIC_BAD_PARAMS.number


# Deleting


def test_delete_network_adapter_by_mac(api, vm, vsphere):
    nic = add(api, vm, network="VM Network").json()["data"]
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/networks/{nic['mac_address'].upper()}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.NIC_DELETED.number
    assert body["data"]["key"] == nic["key"]
    assert nic["key"] not in {d.key for d in vc_nics(vsphere, vm)}
    assert EventLog.objects.filter(action="nic_removed", object_id=str(vm.pk)).exists()


def test_delete_network_adapter_by_key_in_the_path_or_the_body(api, vm, vsphere):
    [original] = vc_nics(vsphere, vm)
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/networks/{original.key}/")
    assert response.json()["code"] == codes.NIC_DELETED.number
    nic = add(api, vm, network="VM Network").json()["data"]
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/networks", {"key": nic["key"]}, format="json")
    assert response.json()["code"] == codes.NIC_DELETED.number
    assert vc_nics(vsphere, vm) == []


@pytest.mark.parametrize("ident", ["424242", "00:50:56:aa:bb:cc", "not-a-mac", "网卡"])
def test_delete_network_adapter_answers_2211_when_not_found(api, vm, vsphere, ident):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/networks/{ident}")
    assert response.status_code == 404
    assert response.json()["code"] == codes.NIC_NOT_FOUND.number
    assert len(vc_nics(vsphere, vm)) == 1


@pytest.mark.parametrize("body", [{}, {"key": "x"}, {"mac_address": 5, "key": 1}])
def test_delete_network_adapter_answers_2211_for_a_body_naming_nothing(api, vm, vsphere, body):
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/networks", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.NIC_NOT_FOUND.number
    assert len(vc_nics(vsphere, vm)) == 1


def test_delete_network_adapter_answers_2212_when_vcenter_refuses(api, vm, vsphere):
    """A real vCenter fault: vCenter (and vcsim) refuse device changes on a template."""
    [nic] = vc_nics(vsphere, vm)
    ref = vim.VirtualMachine(vm.moid, vsphere.propertyCollector._stub)
    ref.PowerOffVM_Task()
    ref.MarkAsTemplate()
    response = api.delete(f"/api/vcenter/vms/{vm.pk}/networks/{nic.key}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.NIC_DELETE_FAILED.number
    assert body["data"]["fault"] == "vmodl.fault.NotSupported"
    assert [d.key for d in vc_nics(vsphere, vm)] == [nic.key]


# Permissions


def test_network_changes_need_the_network_permission(vm, vsphere):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_virtualmachine"))
    assert api_client_for(user).get(f"/api/vcenter/vms/{vm.pk}/networks").status_code == 200
    response = add(api_client_for(user), vm, network="VM Network")
    assert response.status_code == 403
    assert len(vc_nics(vsphere, vm)) == 1

    user.user_permissions.add(Permission.objects.get(codename="network_virtualmachine"))
    user = type(user).objects.get(pk=user.pk)
    assert add(api_client_for(user), vm, network="VM Network").status_code == 201
    assert len(vc_nics(vsphere, vm)) == 2
