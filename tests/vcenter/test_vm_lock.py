"""One change at a time per VM: a second concurrent change is refused with 911, not interleaved."""

import threading

import pytest
from pyVmomi import vim

from kstack_naguan.api import codes
from tests.conftest import api_client_for
from vcenter import locks, services
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


@pytest.fixture
def vm(fresh_platform):
    services.start_sync(fresh_platform)
    return VirtualMachine.objects.get(platform=fresh_platform, name="DC0_H0_VM0")


def disks_of(content, vm):
    live = vim.VirtualMachine(vm.moid, content.propertyCollector._stub)
    return [d for d in live.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]


def test_change_to_a_vm_is_refused_while_another_holds_its_lock(api, vm, vsphere):
    before = len(disks_of(vsphere, vm))
    with locks.vm_lock(vm):
        response = api.post(
            f"/api/vcenter/vms/{vm.pk}/disks",
            {"disks": [{"type": "thin", "size": 1}]},
            format="json",
        )
        power = api.post(f"/api/vcenter/vms/{vm.pk}/power", {"action": "off"}, format="json")
    assert response.status_code == power.status_code == 409
    assert response.json()["code"] == power.json()["code"] == codes.CONFLICT.number
    assert len(disks_of(vsphere, vm)) == before
    assert VirtualMachine.objects.get(pk=vm.pk).power_state == "poweredOn"

    # Released: the same change goes through.
    after = api.post(
        f"/api/vcenter/vms/{vm.pk}/disks", {"disks": [{"type": "thin", "size": 1}]}, format="json"
    )
    assert (after.status_code, after.json()["code"]) == (201, codes.DISK_ADDED.number)
    assert len(disks_of(vsphere, vm)) == before + 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_disk_adds_never_take_the_same_unit(admin_user, fresh_platform, vsphere):
    services.start_sync(fresh_platform)
    vm = VirtualMachine.objects.get(platform=fresh_platform, name="DC0_H0_VM0")
    before = len(disks_of(vsphere, vm))
    answers, barrier = [], threading.Barrier(2)

    def add_disk():
        client = api_client_for(admin_user)
        barrier.wait()
        response = client.post(
            f"/api/vcenter/vms/{vm.pk}/disks",
            {"disks": [{"type": "thin", "size": 1}]},
            format="json",
        )
        answers.append((response.status_code, response.json()["code"]))

    threads = [threading.Thread(target=add_disk) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    added = [a for a in answers if a[1] == codes.DISK_ADDED.number]
    refused = [a for a in answers if a[1] == codes.CONFLICT.number]
    assert len(added) + len(refused) == 2 and added, answers
    disks = disks_of(vsphere, vm)
    assert len(disks) == before + len(added)
    units = [(d.controllerKey, d.unitNumber) for d in disks]
    assert len(units) == len(set(units))
