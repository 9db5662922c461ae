"""A database failure part-way through a write leaves nothing half-written.

The app-level tests fail each write service's first statement (e.g.
tests/accounts/test_users.py::test_create_user_when_database_fails_returns_1104); here the
fault strikes a later statement of the same service, after earlier rows were written, and the
earlier rows must be gone too. The faults are hand-built (tests.conftest.failing_sql refuses the
matching SQL before it reaches the database): no real database fails on demand.
"""

import pytest

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from platforms.models import CloudPlatform
from rbac.models import Role
from vcenter import services as vcenter_services
from vcenter.models import Datacenter, Datastore, Host, VirtualMachine

from ..conftest import failing_sql
from ..factories import MenuFactory, PlatformTypeFactory, RoleFactory
from .conftest import record_figure

pytestmark = pytest.mark.django_db


def _counts(*models):
    return {model._meta.label: model.objects.count() for model in models}


def _expect(response, status, code):
    body = response.json()
    assert (response.status_code, body["code"]) == (status, code.number), body
    return body


def test_user_create_failing_at_its_event_row_leaves_no_user(api):
    """The EventLog INSERT, written after the user row in the same transaction, is refused."""
    from accounts.models import User

    before = _counts(User, EventLog)
    with failing_sql(r'INSERT INTO "audit_eventlog"'):
        response = api.post(
            "/api/users/",
            {"username": "dora", "email": "dora@example.test", "password": "Quiet-River-81"},
            format="json",
        )
    _expect(response, 500, codes.USER_CREATE_ERROR)
    assert _counts(User, EventLog) == before
    record_figure(
        "database_fault user create", half_written_rows=0, answer="500 with the seed code"
    )


def test_role_update_failing_at_its_menu_links_keeps_the_role_as_it_was(api):
    """The INSERT of the role's new menu links, after the role row is saved, is refused."""
    kept, added = MenuFactory(), MenuFactory()
    role = RoleFactory(name="ops", description="before", menus=[kept])
    with failing_sql(r'INTO "rbac_role_menus"'):
        response = api.patch(
            f"/api/roles/{role.pk}",
            {"name": "ops-renamed", "description": "after", "menus": [kept.pk, added.pk]},
            format="json",
        )
    _expect(response, 500, codes.ROLE_UPDATE_DB_ERROR)
    role = Role.objects.get(pk=role.pk)
    assert (role.name, role.description) == ("ops", "before")
    assert list(role.menus.values_list("pk", flat=True)) == [kept.pk]
    assert not EventLog.objects.filter(object_type="rbac.Role", action="update").exists()
    record_figure(
        "database_fault role update", half_written_rows=0, answer="500 with the seed code"
    )


def test_platform_create_failing_at_its_sync_schedule_leaves_no_platform(api):
    """The INSERT of the platform's periodic sync, made by a post_save handler, is refused."""
    from django_celery_beat.models import PeriodicTask

    before = _counts(CloudPlatform, PeriodicTask, EventLog)
    with failing_sql(r'INSERT INTO "django_celery_beat_periodictask"'):
        response = api.post(
            "/api/platforms/",
            {
                "name": "half",
                "platform_type": PlatformTypeFactory().pk,
                "host": "vc.example.test",
                "port": 443,
                "username": "administrator@vsphere.local",
                "password": "Hidden-Pass-19",
            },
            format="json",
        )
    _expect(response, 500, codes.PLATFORM_CREATE_DB_ERROR)
    assert _counts(CloudPlatform, PeriodicTask, EventLog) == before
    record_figure(
        "database_fault platform create", half_written_rows=0, answer="500 with the seed code"
    )


@pytest.mark.vcsim
def test_sync_failing_at_its_vm_rows_leaves_the_inventory_as_it_was(fresh_platform):
    """The INSERT of VM rows, after datacenters, hosts and datastores, is refused."""
    inventory = (Datacenter, Host, Datastore, VirtualMachine)
    with failing_sql(r'INSERT INTO "vcenter_virtualmachine"'):
        first = vcenter_services.start_sync(fresh_platform)
    first.refresh_from_db()
    assert (first.status, first.code) == ("failure", codes.SYNC_FAILED.number)
    assert all(count == 0 for count in _counts(*inventory).values())

    # Once mirrored, a failing second sync keeps every row of the first.
    vcenter_services.start_sync(fresh_platform)
    mirrored = sorted(VirtualMachine.objects.values_list("moid", "name", "power_state"))
    counts = _counts(*inventory)
    VirtualMachine.objects.update(name="stale")
    with failing_sql(r'UPDATE "vcenter_virtualmachine"'):
        second = vcenter_services.start_sync(fresh_platform)
    second.refresh_from_db()
    assert (second.status, second.code) == ("failure", codes.SYNC_FAILED.number)
    assert _counts(*inventory) == counts
    assert set(VirtualMachine.objects.values_list("name", flat=True)) == {"stale"}
    assert len(mirrored) == counts["vcenter.VirtualMachine"]
    assert TaskLog.objects.filter(status="success").count() == 1
    record_figure("database_fault sync apply", faults=2, half_written_rows=0, answer="TaskLog 2401")
