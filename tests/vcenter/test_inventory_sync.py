"""What a sync does beyond the mirror: ISO images (2450/2451), its report (2400/2401), and the
per-platform lock that keeps two syncs of one platform apart (911 CONFLICT)."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from django.db import DatabaseError
from pyVmomi import vim

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from platforms.models import CloudPlatform
from tests.conftest import VCSIM_PASSWORD
from tests.factories import CloudPlatformFactory
from vcenter import services, sync, tasks
from vcenter.models import Datacenter, Datastore, IsoImage, VirtualMachine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _release_sync_locks(db):
    """A test that leaves a sync queued leaves its lock held; ids repeat in the next test."""
    yield
    for pk in CloudPlatform.objects.values_list("pk", flat=True):
        sync.release_sync_lock(pk, sync.sync_lock_holder(pk))


def drop_iso(sim, relative, size=2048, datastore=None):
    folder = Path(sim.datastore_dirs[datastore] if datastore else sim.datastore_dir)
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return path


def run_sync(platform):
    task_log = services.start_sync(platform)
    task_log.refresh_from_db()
    return task_log


# ISO images


def test_sync_finds_iso_image_dropped_on_datastore(api, fresh_platform, vcsim_fresh, vsphere):
    iso = drop_iso(vcsim_fresh, "isos/test.iso", size=4096)
    drop_iso(vcsim_fresh, "isos/readme.txt")

    task_log = run_sync(fresh_platform)
    assert task_log.status == "success", task_log.error
    assert task_log.result["counts"]["isoimage"] == {
        "added": 1,
        "changed": 0,
        "removed": 0,
        "total": 1,
    }

    response = api.get("/api/vcenter/images")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.IMAGE_QUERY_OK.number
    [image] = body["data"]["results"]
    datastore = Datastore.objects.get(platform=fresh_platform, name="LocalDS_0")
    assert image["path"] == "[LocalDS_0] isos/test.iso"
    assert image["name"] == "test.iso"
    assert image["size_bytes"] == 4096
    assert image["datastore"] == datastore.pk
    assert image["datastore_name"] == "LocalDS_0"
    modified = datetime.fromisoformat(image["modified_at"])
    assert abs(modified - datetime.fromtimestamp(iso.stat().st_mtime, UTC)).total_seconds() < 1

    # vCenter's own datastore browser sees the file under the same path.
    [ds] = [d for d in vsphere.rootFolder.childEntity[0].datastore if d.name == "LocalDS_0"]
    assert ds.summary.url.rstrip("/") == str(iso.parent.parent).rstrip("/")


@pytest.mark.parametrize("by", ["id", "path"])
def test_synced_iso_image_backs_the_cdrom_of_a_new_vm(
    api, fresh_platform, vcsim_fresh, vsphere, by
):
    drop_iso(vcsim_fresh, "isos/test.iso")
    run_sync(fresh_platform)
    [image] = api.get("/api/vcenter/images").json()["data"]["results"]

    body = {
        "name": "from-iso",
        "platform": fresh_platform.pk,
        "datacenter": Datacenter.objects.get(platform=fresh_platform).pk,
        "cluster": "DC0_C0",
        "datastore": "LocalDS_0",
        "cpu": 1,
        "memory_mb": 512,
        "guest_id": "ubuntu64Guest",
        "disks": [{"type": "thin", "size": 1}],
        "networks": ["VM Network"],
        "iso": image["id"] if by == "id" else image["path"],
    }
    response = api.post("/api/vcenter/vms", body, format="json")
    assert response.status_code == 202, response.json()
    task_log = TaskLog.objects.get(pk=response.json()["data"]["task_id"])
    assert task_log.status == "success", task_log.error

    vm = vim.VirtualMachine(task_log.result["moid"], vsphere.propertyCollector._stub)
    [cdrom] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualCdrom)]
    assert cdrom.backing.fileName == "[LocalDS_0] isos/test.iso"


def test_sync_follows_iso_images_that_change_or_vanish(fresh_platform, vcsim_fresh):
    kept = drop_iso(vcsim_fresh, "kept.iso", size=100)
    gone = drop_iso(vcsim_fresh, "deep/er/gone.iso", size=100)
    first = run_sync(fresh_platform)
    assert first.result["counts"]["isoimage"]["added"] == 2
    assert set(IsoImage.objects.values_list("path", flat=True)) == {
        "[LocalDS_0] kept.iso",
        "[LocalDS_0] deep/er/gone.iso",
    }

    kept.write_bytes(b"\0" * 300)
    gone.unlink()
    second = run_sync(fresh_platform)
    assert second.result["counts"]["isoimage"] == {
        "added": 0,
        "changed": 1,
        "removed": 1,
        "total": 1,
    }
    assert list(IsoImage.objects.values_list("path", "size_bytes")) == [
        ("[LocalDS_0] kept.iso", 300)
    ]

    third = run_sync(fresh_platform)
    assert third.result["rows_written"] == 0


def test_sync_keeps_images_of_a_datastore_it_cannot_search(db, vcsim_fresh):
    # A second datastore whose folder disappears: vcsim's browser answers FileNotFound for it.
    from kstack_naguan.testing.vcsim import Simulator
    from tests.conftest import VCSIM_USER

    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD, ds=2) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name="two-datastores")
        drop_iso(sim, "a.iso", datastore="DC0/LocalDS_0")
        drop_iso(sim, "b.iso", datastore="DC0/LocalDS_1")
        assert run_sync(platform).result["counts"]["isoimage"]["added"] == 2

        shutil.rmtree(sim.datastore_dirs["DC0/LocalDS_1"])
        os.remove(Path(sim.datastore_dirs["DC0/LocalDS_0"]) / "a.iso")
        task_log = run_sync(platform)
    assert task_log.status == "success", task_log.error
    assert list(task_log.result["image_failures"]) == ["LocalDS_1"]
    assert list(IsoImage.objects.values_list("path", flat=True)) == ["[LocalDS_1] b.iso"]


def test_list_images_filters_by_datastore_host_and_name(api, fresh_platform, vcsim_fresh):
    drop_iso(vcsim_fresh, "ubuntu-24.04.iso")
    drop_iso(vcsim_fresh, "isos/windows.iso")
    run_sync(fresh_platform)
    datastore = Datastore.objects.get(platform=fresh_platform)
    mounting = datastore.hosts.first()
    # Every host of the simulator mounts its one datastore: unmount one in the mirror.
    elsewhere = datastore.hosts.last()
    datastore.hosts.remove(elsewhere)

    def paths(**params):
        data = api.get("/api/vcenter/images", params).json()["data"]
        return sorted(image["path"] for image in data["results"])

    both = ["[LocalDS_0] isos/windows.iso", "[LocalDS_0] ubuntu-24.04.iso"]
    assert paths(platform=fresh_platform.pk) == both
    assert paths(datastore=datastore.pk, datacenter=datastore.datacenter_id) == both
    assert paths(host=mounting.pk) == both
    assert paths(host=elsewhere.pk) == []
    assert paths(name="UBUNTU") == ["[LocalDS_0] ubuntu-24.04.iso"]
    assert paths(search="windows") == ["[LocalDS_0] isos/windows.iso"]


@pytest.mark.parametrize(
    "params", [{"platform": "abc"}, {"datastore": "424242"}, {"host": "9" * 30}]
)
def test_list_images_rejects_bad_filter(api, db, params):
    response = api.get("/api/vcenter/images", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.INVALID_INPUT.number
    assert set(params) <= set(body["data"]["errors"])


def test_list_images_answers_2451_when_the_database_fails(api, fresh_platform, vcsim_fresh):
    """vcsim cannot break the portal's database: the failure is simulated with a mock."""
    drop_iso(vcsim_fresh, "test.iso")
    run_sync(fresh_platform)
    with mock.patch.object(
        IsoImage.objects, "select_related", side_effect=DatabaseError("connection lost")
    ):
        response = api.get("/api/vcenter/images")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == codes.IMAGE_DB_ERROR.number
    assert "connection lost" not in response.content.decode()


def test_sync_fails_with_2401_when_images_cannot_be_written(fresh_platform, vcsim_fresh):
    """A database failure while writing ISO images is simulated with a mock (vcsim cannot
    cause one); the whole sync is rolled back and reported as 2401."""
    drop_iso(vcsim_fresh, "test.iso")
    with mock.patch.object(IsoImage.objects, "bulk_create", side_effect=DatabaseError("disk full")):
        task_log = run_sync(fresh_platform)
    assert task_log.status == "failure"
    assert task_log.code == codes.SYNC_FAILED.number
    assert not VirtualMachine.objects.exists()
    assert not IsoImage.objects.exists()
    assert sync.sync_lock_holder(fresh_platform.pk) is None


def test_list_images_query_count_does_not_grow_with_images(
    api, fresh_platform, vcsim_fresh, django_assert_max_num_queries
):
    drop_iso(vcsim_fresh, "one.iso")
    run_sync(fresh_platform)
    with django_assert_max_num_queries(6):
        assert api.get("/api/vcenter/images").status_code == 200
    for index in range(15):
        drop_iso(vcsim_fresh, f"more/{index}.iso")
    run_sync(fresh_platform)
    assert IsoImage.objects.count() == 16
    with django_assert_max_num_queries(6):
        assert api.get("/api/vcenter/images").status_code == 200


# What a sync reports


def test_sync_endpoint_reports_counts_duration_and_events_2400(api, fresh_platform, vcsim_fresh):
    response = api.post("/api/vcenter/sync", {"platform": fresh_platform.pk}, format="json")
    assert response.status_code == 202
    [entry] = response.json()["data"]
    assert entry["platform"] == fresh_platform.pk

    log = api.get(f"/api/logs/tasks/{entry['task_id']}").json()["data"]
    assert (log["status"], log["code"]) == ("success", codes.SYNC_OK.number)
    result = log["result"]
    assert set(result["counts"]) >= {
        "datacenter",
        "folder",
        "cluster",
        "host",
        "resourcepool",
        "datastore",
        "network",
        "virtualmachine",
        "isoimage",
    }
    assert result["counts"]["virtualmachine"]["added"] == vcsim_fresh.expected_vm_count
    assert result["duration_seconds"] >= result["read_seconds"] > 0
    assert result["duration_seconds"] >= result["write_seconds"] > 0
    # A first sync says once how many VMs it imported, not once per VM.
    imported = EventLog.objects.get(action="imported", object_id=str(fresh_platform.pk))
    assert imported.after == {"vms": vcsim_fresh.expected_vm_count}
    assert not EventLog.objects.filter(action="appeared").exists()


def test_sync_endpoint_failure_is_2401_and_releases_the_lock(api, fresh_platform):
    fresh_platform.password = "not-" + VCSIM_PASSWORD
    fresh_platform.save()
    response = api.post("/api/vcenter/sync", {"platform": fresh_platform.pk}, format="json")
    task_id = response.json()["data"][0]["task_id"]
    task_log = TaskLog.objects.get(pk=task_id)
    assert (task_log.status, task_log.code) == ("failure", codes.SYNC_FAILED.number)
    assert sync.sync_lock_holder(fresh_platform.pk) is None
    again = api.post("/api/vcenter/sync", {"platform": fresh_platform.pk}, format="json")
    assert again.status_code == 202


# The lock


@pytest.fixture
def queued_only():
    """Queue tasks without running them, as a broker would while no worker has picked them up.

    The broker is the only thing replaced: the TaskLog, the lock and the task are the real ones.
    """
    sent = []
    with mock.patch.object(
        tasks.sync_platform,
        "apply_async",
        side_effect=lambda args, kwargs: sent.append(args) or mock.Mock(id="queued"),
    ):
        yield sent


def test_second_sync_of_a_platform_answers_409_with_running_task_log(
    api, fresh_platform, queued_only
):
    first = api.post("/api/vcenter/sync", {"platform": fresh_platform.pk}, format="json")
    assert first.status_code == 202
    first_id = first.json()["data"][0]["task_id"]

    second = api.post("/api/vcenter/sync", {"platform": fresh_platform.pk}, format="json")
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == codes.CONFLICT.number
    assert body["data"]["task_id"] == first_id
    assert body["data"]["platform"] == fresh_platform.pk
    assert TaskLog.objects.filter(name="vcenter.sync").count() == 1

    # The queued task runs, syncs, and lets the next sync start.
    [args] = queued_only
    tasks.sync_platform.apply(args=args)
    assert TaskLog.objects.get(pk=first_id).status == "success"
    assert VirtualMachine.objects.filter(platform=fresh_platform).exists()
    queued_only.clear()
    assert (
        api.post("/api/vcenter/sync", {"platform": fresh_platform.pk}, format="json").status_code
        == 202
    )


def test_sync_of_all_platforms_skips_the_one_already_syncing(api, db, vcsim, queued_only):
    busy = CloudPlatformFactory.for_simulator(vcsim, name="busy")
    idle = CloudPlatformFactory.for_simulator(vcsim, name="idle")
    CloudPlatformFactory.for_simulator(vcsim, name="off", is_active=False)
    running = services.start_sync(busy)

    response = api.post("/api/vcenter/sync", {}, format="json")
    assert response.status_code == 202
    entries = {entry["platform"]: entry for entry in response.json()["data"]}
    assert set(entries) == {busy.pk, idle.pk}
    assert entries[busy.pk]["task_id"] == running.pk
    assert entries[idle.pk]["task_id"] != running.pk

    # With both now queued, "all" is refused as a whole.
    again = api.post("/api/vcenter/sync", {"platform": None}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == codes.CONFLICT.number
    assert {entry["platform"] for entry in again.json()["data"]} == {busy.pk, idle.pk}


def test_sync_task_refuses_to_run_beside_another_holder(fresh_platform):
    holder = sync.claim_sync_lock(fresh_platform.pk)
    try:
        with pytest.raises(services.SyncRunning):
            services.start_sync(fresh_platform)
        # A task queued with a token that no longer holds the lock (it expired and another
        # sync took it) ends as a conflict and mirrors nothing.
        from audit.services import enqueue

        task_log = enqueue(
            tasks.sync_platform,
            name=services.SYNC_TASK_NAME,
            obj=fresh_platform,
            args=[fresh_platform.pk, "expired-token"],
        )
        task_log.refresh_from_db()
        assert (task_log.status, task_log.code) == ("failure", codes.CONFLICT.number)
        assert not VirtualMachine.objects.exists()
        assert sync.sync_lock_holder(fresh_platform.pk) == holder
    finally:
        sync.release_sync_lock(fresh_platform.pk, holder)
    assert run_sync(fresh_platform).status == "success"


def test_sync_lock_expires_when_its_holder_dies(fresh_platform, settings):
    settings.KSTACK_SYNC_LOCK_SECONDS = 1
    assert sync.claim_sync_lock(fresh_platform.pk) is not None  # a worker that never releases
    assert sync.claim_sync_lock(fresh_platform.pk) is None
    import time

    time.sleep(1.2)
    assert run_sync(fresh_platform).status == "success"


def test_refresh_of_an_unknown_vm_does_not_sync_beside_a_running_sync(fresh_platform, vsphere):
    vm = vsphere.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    holder = sync.claim_sync_lock(fresh_platform.pk)
    try:
        assert sync.refresh_vm(fresh_platform, vm._moId) is None  # the running sync will add it
        assert not VirtualMachine.objects.exists()
    finally:
        sync.release_sync_lock(fresh_platform.pk, holder)
    assert sync.refresh_vm(fresh_platform, vm._moId).name == "DC0_H0_VM0"


def test_sync_all_task_queues_each_active_platform(db, vcsim):
    active = CloudPlatformFactory.for_simulator(vcsim, name="active")
    CloudPlatformFactory.for_simulator(vcsim, name="inactive", is_active=False)
    tasks.sync_all.delay()
    assert list(TaskLog.objects.values_list("object_id", "status")) == [(str(active.pk), "success")]
    tasks.sync_all.delay(platform_ids=[active.pk])
    assert TaskLog.objects.filter(status="success").count() == 2
