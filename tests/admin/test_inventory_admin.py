"""Every model is in the admin with working lists, and the inventory links its objects
(VM → host → cluster → datacenter); periodic syncs are reachable in django-celery-beat's admin."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.forms.models import model_to_dict
from django_celery_beat.models import PeriodicTask

from audit.admin import ScheduledTaskForm
from vcenter.models import Cluster, Snapshot, VirtualMachine

from .conftest import admin_client

pytestmark = pytest.mark.django_db

PORTAL_APPS = ["accounts", "rbac", "platforms", "systemconfig", "audit", "vcenter"]


def test_register_every_portal_model_in_the_admin():
    missing = [
        model._meta.label
        for label in PORTAL_APPS
        for model in apps.get_app_config(label).get_models()
        if model not in admin.site._registry
    ]
    assert missing == []


def test_render_every_admin_list_with_search_and_filters(fresh_synced, admin_user):
    client = admin_client(admin_user)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        assert client.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert client.get(f"{url}?q=%E4%B8%AD%00x").status_code == 200, url
        if model_admin.date_hierarchy:
            assert client.get(f"{url}?{model_admin.date_hierarchy}__year=2026").status_code == 200


def test_link_inventory_objects_up_to_their_datacenter(fresh_synced, admin_user):
    client = admin_client(admin_user)
    host = VirtualMachine.objects.get(platform=fresh_synced, name="DC0_C0_RP0_VM0").host
    html = client.get("/admin/vcenter/virtualmachine/?q=DC0_C0_RP0_VM0").content.decode()
    assert f'href="/admin/vcenter/host/{host.pk}/change/"' in html
    assert f'href="/admin/vcenter/cluster/{host.cluster_id}/change/"' in html

    html = client.get("/admin/vcenter/host/").content.decode()
    assert f'href="/admin/vcenter/cluster/{host.cluster_id}/change/"' in html
    assert f'href="/admin/vcenter/datacenter/{host.datacenter_id}/change/"' in html
    assert f"/admin/vcenter/virtualmachine/?host__id__exact={host.pk}" in html

    cluster = Cluster.objects.get(pk=host.cluster_id)
    html = client.get("/admin/vcenter/cluster/").content.decode()
    assert f'href="/admin/vcenter/datacenter/{cluster.datacenter_id}/change/"' in html
    vms = client.get(f"/admin/vcenter/virtualmachine/?cluster__id__exact={cluster.pk}")
    assert {vm.name for vm in vms.context["cl"].result_list} == {"DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}


def test_show_a_vms_snapshots_on_its_page(vm, admin_user):
    snapshot = Snapshot.objects.create(
        platform=vm.platform, vm=vm, moid="snapshot-1", name="before-upgrade", is_current=True
    )
    client = admin_client(admin_user)
    html = client.get(f"/admin/vcenter/virtualmachine/{vm.pk}/change/").content.decode()
    assert "before-upgrade" in html
    assert f'href="/admin/vcenter/snapshot/{snapshot.pk}/change/"' in html
    html = client.get("/admin/vcenter/snapshot/").content.decode()
    assert f'href="/admin/vcenter/virtualmachine/{vm.pk}/change/"' in html


def test_reach_periodic_syncs_in_celery_beats_admin(fresh_platform, admin_user):
    client = admin_client(admin_user)
    index = client.get("/admin/").content.decode()
    assert "/admin/django_celery_beat/periodictask/" in index
    response = client.get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200
    tasks = [task.task for task in response.context["cl"].result_list]
    assert "vcenter.sync_all" in tasks or any("sync" in task for task in tasks)


def test_offer_periodic_syncs_to_the_administrator_role(fresh_platform, administrator):
    response = admin_client(administrator).get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url", ["/admin/vcenter/virtualmachine/", "/admin/accounts/user/", "/admin/rbac/role/"]
)
def test_admin_search_longer_than_any_name_is_a_400_not_a_500(admin_user, url):
    """SQLite refuses LIKE patterns past 50,000 bytes; no search term is 1,000 characters."""
    client = admin_client(admin_user)
    response = client.get(url, {"q": "a" * 60_000})
    assert response.status_code == 400
    assert "q: at most 1000 characters" in response.content.decode()
    assert client.get(url, {"q": "a" * 1000}).status_code == 200


@pytest.mark.parametrize(
    ("task", "valid"),
    [("vcenter.sync_all", True), ("vcenter.create", False), ("vcenter.clone", False)],
)
def test_periodic_task_admin_schedules_only_tasks_meant_for_a_schedule(
    fresh_platform, admin_user, task, valid
):
    """Scheduling a VM create or a clone would run it without the permission checks of the
    routes that queue them; the admin's form refuses any task not meant for a schedule."""
    periodic = PeriodicTask.objects.get(task="vcenter.sync_all")
    data = {k: v for k, v in model_to_dict(periodic).items() if v is not None}
    data.update(task=task, regtask="", args="[]", kwargs="{}")
    form_class = admin.site._registry[PeriodicTask].form
    assert form_class is ScheduledTaskForm
    form = form_class(data, instance=periodic)
    assert form.is_valid() is valid, form.errors
    if not valid:
        assert "vcenter.sync_all" in str(form.errors)
    periodic.refresh_from_db()
    assert periodic.task == "vcenter.sync_all"
    offered = [name for name, _label in form.fields["regtask"].widget.choices if name]
    assert "vcenter.sync_all" in offered and "vcenter.create" not in offered
