"""The platform admin: the password stays write-only and changes reach the event log."""

import pytest
from django.test import Client

from audit.models import EventLog
from platforms.models import CloudPlatform
from tests.factories import CloudPlatformFactory, PlatformTypeFactory

pytestmark = pytest.mark.django_db

SECRET = "Admin-Typed-Secret-9"


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _form(platform_type, **overrides):
    data = {
        "name": "from-admin",
        "platform_type": platform_type.pk,
        "host": "vc.example",
        "port": 443,
        "protocol": "https",
        "username": "administrator@vsphere.local",
        "password": SECRET,
        "verify_tls": "on",
        "is_active": "on",
        "remarks": "",
    }
    data.update(overrides)
    return data


def test_admin_creates_platform_with_encrypted_password_and_event(admin_client_):
    platform_type = PlatformTypeFactory(name="vCenter")
    response = admin_client_.post("/admin/platforms/cloudplatform/add/", _form(platform_type))
    assert response.status_code == 302
    platform = CloudPlatform.objects.get(name="from-admin")
    assert platform.password == SECRET and SECRET not in platform.password_encrypted
    event = EventLog.objects.get(action="create", object_type="platforms.CloudPlatform")
    assert event.username == "admin" and event.after["has_password"] is True
    assert SECRET not in str(event.after) + event.message


def test_admin_change_page_never_shows_the_password_and_empty_keeps_it(admin_client_):
    platform = CloudPlatformFactory(name="kept", password=SECRET)
    page = admin_client_.get(f"/admin/platforms/cloudplatform/{platform.pk}/change/")
    assert SECRET not in page.content.decode()
    assert platform.password_encrypted not in page.content.decode()
    form = _form(
        platform.platform_type, name="kept", host=platform.host, password="", remarks="edited"
    )
    response = admin_client_.post(f"/admin/platforms/cloudplatform/{platform.pk}/change/", form)
    assert response.status_code == 302
    platform.refresh_from_db()
    assert platform.password == SECRET and platform.remarks == "edited"
    event = EventLog.objects.get(action="update")
    assert event.before["remarks"] == "" and event.after["remarks"] == "edited"


def test_admin_refuses_a_new_endpoint_without_the_password_again(admin_client_):
    platform = CloudPlatformFactory(name="kept", password=SECRET)
    url = f"/admin/platforms/cloudplatform/{platform.pk}/change/"
    form = _form(platform.platform_type, name="kept", host="listener.example", password="")
    response = admin_client_.post(url, form)
    assert response.status_code == 200  # the form comes back with the error
    assert "须重新输入密码" in response.content.decode()
    platform.refresh_from_db()
    assert platform.host == "127.0.0.1"
    response = admin_client_.post(url, {**form, "password": "new-one"})
    assert response.status_code == 302
    platform.refresh_from_db()
    assert (platform.host, platform.password) == ("listener.example", "new-one")


def test_admin_delete_writes_event(admin_client_):
    platform = CloudPlatformFactory(name="gone")
    response = admin_client_.post(
        f"/admin/platforms/cloudplatform/{platform.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not CloudPlatform.objects.filter(pk=platform.pk).exists()
    event = EventLog.objects.get(action="delete")
    assert (event.object_id, event.object_repr) == (str(platform.pk), "gone")
