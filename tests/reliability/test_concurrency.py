"""Parallel requests racing for one name, one VM's power state and one platform's sync.

Each test starts its requests together (a barrier) on threads with their own database
connections, and checks that exactly one wins, that every other answer is a clean refusal with
its seed code (never a 500), and that nothing is lost or written twice. PostgreSQL only: SQLite's
test database serialises writers with a table lock, so nothing races there (the tests skip, and
say so). tests/accounts/test_user_race.py races two user creates through the pre-check.
"""

import threading
from collections import Counter

import pytest
from django.db import connections
from django_celery_beat.models import PeriodicTask
from pyVim.connect import Disconnect
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from kstack_naguan.testing.vcsim import Simulator
from platforms.models import CloudPlatform
from rbac.models import Role
from vcenter import services as vcenter_services
from vcenter.models import VirtualMachine

from ..conftest import VCSIM_PASSWORD, VCSIM_USER, api_client_for, vsphere_content
from ..factories import CloudPlatformFactory, PlatformTypeFactory, UserFactory
from .conftest import record_figure

RACERS = 8


def _race(clients, request):
    """Run `request(client)` for every client at once; return the responses in order."""
    barrier = threading.Barrier(len(clients), timeout=30)
    responses = [None] * len(clients)
    errors = []

    def run(index):
        try:
            barrier.wait()
            responses[index] = request(clients[index])
        except Exception as exc:  # reported below; a thread must not die silently
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(response is not None for response in responses)
    return responses


def _outcomes(responses):
    return Counter((r.status_code, r.json()["code"]) for r in responses)


@pytest.fixture
def racers(needs_postgresql):
    admin = UserFactory(username="race-admin", is_superuser=True, is_staff=True)
    return admin, [api_client_for(admin) for _ in range(RACERS)]


def test_parallel_platform_creates_with_one_name_have_one_winner(racers):
    admin, clients = racers
    platform_type = PlatformTypeFactory().pk

    def create(client):
        body = {
            "name": "race-vc",
            "platform_type": platform_type,
            "host": "vc.example.test",
            "port": 443,
            "username": "administrator@vsphere.local",
            "password": "Race-Pass-73",
        }
        return client.post("/api/platforms/", body, format="json")

    outcomes = _outcomes(_race(clients, create))
    assert outcomes == {
        (201, codes.PLATFORM_CREATED.number): 1,
        (409, codes.PLATFORM_NAME_EXISTS.number): RACERS - 1,
    }
    assert CloudPlatform.objects.filter(name="race-vc").count() == 1
    assert PeriodicTask.objects.filter(name__startswith="vcenter.sync platform").count() == 1
    assert EventLog.objects.filter(object_type="platforms.CloudPlatform").count() == 1
    record_figure("race platform name", racers=RACERS, winners=1, refused_cleanly=RACERS - 1)


def test_parallel_role_creates_with_one_name_have_one_winner(racers):
    admin, clients = racers

    def create(client):
        body = {"name": "race-role", "description": "created in a race"}
        return client.post("/api/roles/", body, format="json")

    outcomes = _outcomes(_race(clients, create))
    assert outcomes == {
        (201, codes.ROLE_CREATED.number): 1,
        (409, codes.ROLE_NAME_EXISTS.number): RACERS - 1,
    }
    assert Role.objects.filter(name="race-role").count() == 1
    record_figure("race role name", racers=RACERS, winners=1, refused_cleanly=RACERS - 1)


@pytest.mark.vcsim
def test_parallel_power_on_of_one_vm_powers_it_on_once(racers):
    admin, clients = racers
    # A slow power-on (0.3 s) keeps the first request's change under way while the others
    # arrive: they are refused as busy (911) by the VM's change lock, or, arriving after it,
    # find the VM on.
    with Simulator(
        username=VCSIM_USER,
        password=VCSIM_PASSWORD,
        extra_args=("-method-delay", "PowerOnVM_Task:300"),
    ) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name="race-power")
        vcenter_services.start_sync(platform)
        si, content = vsphere_content(sim)
        vm = VirtualMachine.objects.filter(platform=platform, power_state="poweredOn").first()
        target = vim.VirtualMachine(vm.moid, si._stub)
        target.PowerOffVM_Task()
        vm.power_state = "poweredOff"
        vm.save(update_fields=["power_state"])

        responses = _race(
            clients,
            lambda client: client.post(
                f"/api/vcenter/vms/{vm.pk}/power", {"action": "on"}, format="json"
            ),
        )
        state = target.runtime.powerState
        Disconnect(si)

    changed = [r for r in responses if r.status_code == 200 and r.json()["data"]["changed"]]
    assert len(changed) == 1
    for response in responses:
        body = response.json()
        assert (response.status_code, body["code"]) in {
            (200, codes.VM_POWERED_ON.number),
            (409, codes.VM_POWER_ON_FAILED.number),
            (409, codes.CONFLICT.number),
        }, body
    assert state == "poweredOn"
    vm.refresh_from_db()
    assert vm.power_state == "poweredOn"
    assert EventLog.objects.filter(action="power_on", object_id=str(vm.pk)).count() == 1
    outcomes = _outcomes(responses)
    record_figure(
        "race power on",
        racers=RACERS,
        winners=1,
        already_on=outcomes[(200, codes.VM_POWERED_ON.number)] - 1,
        refused_by_vcenter=outcomes[(409, codes.VM_POWER_ON_FAILED.number)],
        refused_busy=outcomes[(409, codes.CONFLICT.number)],
    )


@pytest.mark.vcsim
def test_parallel_syncs_of_one_platform_run_once(racers):
    admin, clients = racers
    # Property reads take 0.3 s: the winning sync is still running when the others ask.
    with Simulator(
        username=VCSIM_USER,
        password=VCSIM_PASSWORD,
        extra_args=("-method-delay", "RetrievePropertiesEx:300"),
    ) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name="race-sync")
        responses = _race(
            clients,
            lambda client: client.post("/api/vcenter/sync", {"platform": platform.pk}, "json"),
        )

    outcomes = _outcomes(responses)
    assert outcomes == {
        (202, codes.TASK_ACCEPTED.number): 1,
        (409, codes.CONFLICT.number): RACERS - 1,
    }
    syncs = TaskLog.objects.filter(name="vcenter.sync")
    assert [(t.status, t.code) for t in syncs] == [("success", codes.SYNC_OK.number)]
    assert VirtualMachine.objects.filter(platform=platform).count() == sim.vm_count
    record_figure("race sync", racers=RACERS, winners=1, refused_cleanly=RACERS - 1)
