import pytest

from vcenter import services
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def test_admin_lists_the_synced_vms(client, admin_user, platform):
    services.start_sync(platform)
    client.force_login(admin_user)
    response = client.get("/admin/vcenter/virtualmachine/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in VirtualMachine.objects.values_list("name", flat=True):
        assert name in page
    assert "4 virtual machines" in page or "4 个" in page


def test_admin_inventory_is_read_only(client, admin_user, platform):
    services.start_sync(platform)
    client.force_login(admin_user)
    assert client.get("/admin/vcenter/virtualmachine/add/").status_code == 403
    vm = VirtualMachine.objects.first()
    page = client.get(f"/admin/vcenter/virtualmachine/{vm.pk}/change/").content.decode()
    assert 'name="name"' not in page  # shown, not editable


def test_admin_cannot_delete_mirror_rows(client, admin_user, platform):
    """Deleting a mirror row would leave the VM in vCenter; the admin offers no delete."""
    services.start_sync(platform)
    client.force_login(admin_user)
    vm = VirtualMachine.objects.first()
    assert client.get(f"/admin/vcenter/virtualmachine/{vm.pk}/delete/").status_code == 403
    response = client.post(
        "/admin/vcenter/virtualmachine/",
        {"action": "delete_selected", "_selected_action": [vm.pk]},
    )
    assert VirtualMachine.objects.filter(pk=vm.pk).exists()
    assert response.status_code in (200, 302)


@pytest.mark.parametrize(
    ("model", "filter_field"),
    [("datacenter", "datacenter"), ("cluster", "cluster"), ("host", "host")],
)
def test_admin_inventory_lists_link_to_their_vms(client, admin_user, platform, model, filter_field):
    services.start_sync(platform)
    client.force_login(admin_user)
    page = client.get(f"/admin/vcenter/{model}/").content.decode()
    assert f"/admin/vcenter/virtualmachine/?{filter_field}__id__exact=" in page
