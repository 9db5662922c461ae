"""The admin's header and title come from the system configuration: its name and its logo."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from systemconfig import services
from systemconfig.models import SystemConfig

from .conftest import admin_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_cached_site_name():
    services.forget_site_name()
    yield
    services.forget_site_name()


def png():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(buffer, "PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def test_show_configured_name_and_logo_in_the_admin_header(admin_user):
    config = SystemConfig.objects.create(name="Ops Portal", logo=png())
    logo_url = config.logo.url
    try:
        html = admin_client(admin_user).get("/admin/").content.decode()
    finally:
        config.logo.delete(save=False)
    assert f'<img src="{logo_url}"' in html
    assert "Ops Portal</a></div>" in html
    assert "<title>Site administration | Ops Portal</title>" in html


def test_show_the_name_alone_without_a_logo(admin_user):
    SystemConfig.objects.create(name="No Logo Portal")
    html = admin_client(admin_user).get("/admin/").content.decode()
    assert "No Logo Portal</a></div>" in html
    assert "portal-logo" not in html


def test_login_page_shows_the_portal_name_before_any_configuration(client):
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "KStack Naguan</a></div>" in html
