"""The scheduled sync: one django-celery-beat periodic task per platform, in step with the
platforms and with the sync interval of the system configuration."""

import json

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from audit.models import TaskLog
from kstack_naguan.celery import app
from systemconfig.models import SystemConfig
from tests.factories import CloudPlatformFactory
from vcenter import schedule
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def periodic(platform):
    return PeriodicTask.objects.select_related("interval").get(name=schedule.task_name(platform.pk))


def test_create_platform_schedules_its_sync_every_30_minutes_by_default(db):
    platform = CloudPlatformFactory(name="east")
    task = periodic(platform)
    assert task.task == "vcenter.sync_all"
    assert json.loads(task.kwargs) == {"platform_ids": [platform.pk]}
    assert (task.interval.every, task.interval.period) == (30, IntervalSchedule.MINUTES)
    assert task.enabled is True
    assert "east" in task.description


def test_create_platform_through_the_api_schedules_its_sync(api):
    from tests.factories import PlatformTypeFactory

    response = api.post(
        "/api/platforms/",
        {
            "name": "api-made",
            "platform_type": PlatformTypeFactory().pk,
            "host": "vcenter.example.test",
            "port": 443,
            "username": "administrator@vsphere.local",
            "password": "Secret-123",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    platform_id = response.json()["data"]["id"]
    assert PeriodicTask.objects.filter(name=schedule.task_name(platform_id)).exists()


def test_system_config_interval_applies_to_every_platform(db):
    first, second = CloudPlatformFactory(), CloudPlatformFactory()
    config = SystemConfig.objects.create(sync_interval_minutes=45)
    assert {periodic(p).interval.every for p in (first, second)} == {45}

    config.sync_interval_minutes = 10
    config.save()
    assert {periodic(p).interval.every for p in (first, second)} == {10}
    assert periodic(CloudPlatformFactory()).interval.every == 10

    config.delete()
    assert periodic(first).interval.every == 30


def test_interval_zero_switches_scheduled_syncs_off(db):
    platform = CloudPlatformFactory()
    SystemConfig.objects.create(sync_interval_minutes=0)
    assert periodic(platform).enabled is False


def test_inactive_platform_has_its_periodic_sync_disabled(db):
    platform = CloudPlatformFactory(is_active=False)
    assert periodic(platform).enabled is False
    platform.is_active = True
    platform.save()
    assert periodic(platform).enabled is True


def test_deleted_platform_loses_its_periodic_sync(db):
    platform = CloudPlatformFactory()
    name = schedule.task_name(platform.pk)
    platform.delete()
    assert not PeriodicTask.objects.filter(name=name).exists()


def test_sync_leaves_the_schedule_alone(platform):
    """Saving `last_synced_at` after each sync must not rewrite the periodic task."""
    from vcenter import services

    before = periodic(platform).date_changed
    services.start_sync(platform)
    platform.refresh_from_db()
    assert platform.last_synced_at is not None
    assert periodic(platform).date_changed == before


def test_sync_schedules_restores_missing_and_removes_stale_tasks(db):
    platform = CloudPlatformFactory()
    PeriodicTask.objects.filter(name=schedule.task_name(platform.pk)).delete()
    stale = PeriodicTask.objects.create(
        name=schedule.task_name(424242),
        task=schedule.TASK,
        interval=IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES),
    )
    schedule.sync_schedules()
    assert periodic(platform).enabled is True
    assert not PeriodicTask.objects.filter(pk=stale.pk).exists()


def test_beat_entry_of_a_platform_syncs_that_platform(transactional_db, vcsim):
    """Beat's own database scheduler reads the entry and sends it, as it would when due.

    The scheduler closes "old" database connections as beat does, which would end a test's
    enclosing transaction: this test commits for real instead.
    """
    platform = CloudPlatformFactory.for_simulator(vcsim, name="beat")
    CloudPlatformFactory.for_simulator(vcsim, name="other")

    scheduler = DatabaseScheduler(app=app, lazy=True)
    entry = scheduler.all_as_schedule()[schedule.task_name(platform.pk)]
    assert entry.task == "vcenter.sync_all"
    assert entry.schedule.run_every.total_seconds() == 30 * 60
    scheduler.apply_async(entry)

    [task_log] = TaskLog.objects.all()
    assert (task_log.object_id, task_log.status) == (str(platform.pk), "success")
    assert VirtualMachine.objects.filter(platform=platform).count() == vcsim.expected_vm_count
    assert not VirtualMachine.objects.exclude(platform=platform).exists()


def test_an_operators_edit_of_a_schedule_survives_unrelated_saves(api):
    """Switched off and set to every minute in the admin, a platform's periodic sync stays so
    when the platform or the configuration is saved for something else; a new configured
    interval, or switching the platform off and on, still applies."""
    SystemConfig.objects.create(sync_interval_minutes=15)
    platform = CloudPlatformFactory(name="edited")
    task = periodic(platform)
    task.enabled = False
    task.interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    task.save()

    def patch(url, data):
        response = api.patch(url, data, format="json")
        assert response.status_code == 200, response.json()

    patch(f"/api/platforms/{platform.pk}", {"remarks": "x"})
    patch("/api/system-config/", {"footer": "x"})
    task = periodic(platform)
    assert (task.enabled, task.interval.every) == (False, 1)

    patch("/api/system-config/", {"sync_interval_minutes": 20})
    task = periodic(platform)
    assert (task.enabled, task.interval.every) == (True, 20)

    task.enabled = False
    task.save()
    patch(f"/api/platforms/{platform.pk}", {"is_active": False})
    assert periodic(platform).enabled is False
    patch(f"/api/platforms/{platform.pk}", {"is_active": True})
    assert periodic(platform).enabled is True
