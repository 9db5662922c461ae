"""`/api/system-config/logo`: real images only, under the cap, served back (1620-1622)."""

import io
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from audit.models import EventLog
from kstack_naguan.api import codes
from systemconfig.models import SystemConfig
from tests.conftest import failing_sql

pytestmark = pytest.mark.django_db

URL = "/api/system-config/logo"


class NewFiles:
    """The logo files a test leaves in MEDIA_ROOT/logo (the folder URLs serve from)."""

    def __init__(self, folder):
        self.folder = folder
        self.before = self._names()

    def _names(self):
        return {p.name for p in self.folder.iterdir()} if self.folder.exists() else set()

    def names(self):
        return sorted(self._names() - self.before)


@pytest.fixture(autouse=True)
def media(settings):
    files = NewFiles(Path(settings.MEDIA_ROOT) / "logo")
    yield files
    for name in files.names():
        (files.folder / name).unlink()


@pytest.fixture
def config(db):
    return SystemConfig.objects.create(name="Lab")


def _image(fmt="PNG", size=(32, 16), color=(200, 30, 30), mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def _upload(api, content, name="logo.png", content_type="image/png"):
    return api.post(
        URL, {"logo": SimpleUploadedFile(name, content, content_type)}, format="multipart"
    )


def _stored(media):
    return media.names()


def test_upload_logo_returns_1620_and_serves_it_back(api, config, media):
    content = _image()
    response = _upload(api, content)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.LOGO_UPDATED.number
    url = body["data"]["logo"]
    assert url.startswith("http://testserver/media/logo/") and url.endswith(".png")
    served = Client().get(url.removeprefix("http://testserver"))
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == content
    config.refresh_from_db()
    assert config.logo.name == url.removeprefix("http://testserver/media/")
    assert api.get("/api/system-config/").json()["data"]["logo"] == url
    event = EventLog.objects.get(action="update_logo")
    assert event.before == {"logo": ""} and event.after == {"logo": config.logo.name}


def test_upload_logo_judges_content_not_file_name(api, config, media):
    response = _upload(api, _image("JPEG"), name="logo.exe", content_type="application/x-foo")
    assert response.status_code == 200
    config.refresh_from_db()
    assert config.logo.name.endswith(".jpg")
    assert not any(name.endswith(".exe") for name in _stored(media))


def test_replacing_logo_removes_the_old_file_after_commit(
    api, config, media, django_capture_on_commit_callbacks
):
    _upload(api, _image(color=(1, 2, 3)))
    config.refresh_from_db()
    first = config.logo.name
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api, _image("GIF", mode="P", color=5), name="x.gif")
    assert response.status_code == 200
    config.refresh_from_db()
    assert config.logo.name != first and config.logo.name.endswith(".gif")
    assert _stored(media) == [os.path.basename(config.logo.name)]


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        (b"GIF89a this is not really an image", "logo.gif", "not an image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "logo.svg", "not an image"),
        (b"#!/bin/sh\nrm -rf /\n", "logo.png", "not an image"),
        (b"", "empty.png", "empty"),
    ],
)
def test_upload_bad_file_returns_908_and_keeps_old_logo(api, config, media, content, name, reason):
    _upload(api, _image())
    config.refresh_from_db()
    old = config.logo.name
    response = _upload(api, content, name=name)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.INVALID_INPUT.number
    assert reason in " ".join(body["data"]["errors"]["logo"]).lower()
    config.refresh_from_db()
    assert config.logo.name == old
    assert _stored(media) == [os.path.basename(old)]


def test_upload_truncated_image_returns_908(api, config, media):
    content = _image("PNG", size=(64, 64))
    response = _upload(api, content[: len(content) // 2])
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number
    assert _stored(media) == []


def test_upload_image_with_too_many_pixels_returns_908_without_decoding(api, config, media):
    content = _image("PNG", size=(5000, 5000), mode="1", color=0)
    assert len(content) < 200_000  # small on disk, huge once decoded
    response = _upload(api, content)
    assert response.status_code == 400
    assert "5000x5000" in response.json()["data"]["errors"]["logo"][0]
    assert _stored(media) == []


def test_upload_of_unaccepted_format_returns_908(api, config, media):
    response = _upload(api, _image("TIFF"), name="logo.tiff")
    assert response.status_code == 400
    assert "TIFF" in response.json()["data"]["errors"]["logo"][0]


def test_upload_without_file_returns_908(api, config):
    response = api.post(URL, {"other": "field"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number
    assert "logo" in response.json()["data"]["errors"]


def test_upload_json_instead_of_multipart_returns_907(api, config):
    response = api.post(URL, {"logo": "data:image/png;base64,AAAA"}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == codes.UNSUPPORTED_MEDIA_TYPE.number


def test_upload_oversized_logo_returns_910(api, config, media, settings):
    settings.KSTACK_MAX_UPLOAD_BYTES = 2000
    noisy = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    assert 2000 < len(buffer.getvalue()) < 2000 + 64 * 1024
    response = _upload(api, buffer.getvalue())
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == codes.REQUEST_TOO_LARGE.number
    assert "2000" in body["data"]["errors"]["logo"][0]
    assert _stored(media) == []


def test_upload_declared_too_large_is_refused_before_parsing(api, config, media, settings):
    settings.KSTACK_MAX_UPLOAD_BYTES = 1000
    big = _image(size=(4, 4)) + b"\0" * (100 * 1024)
    response = _upload(api, big)
    assert response.status_code == 413
    assert response.json()["code"] == codes.REQUEST_TOO_LARGE.number
    assert _stored(media) == []


def test_upload_logo_without_config_returns_1621(api, media):
    response = _upload(api, _image())
    assert response.status_code == 404
    assert response.json()["code"] == codes.LOGO_CONFIG_NOT_FOUND.number
    assert _stored(media) == []


def test_upload_logo_when_database_fails_returns_1622_and_keeps_old_logo(api, config, media):
    """The UPDATE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    _upload(api, _image())
    config.refresh_from_db()
    old = config.logo.name
    with failing_sql(r'UPDATE "systemconfig_systemconfig"'):
        response = _upload(api, _image(color=(0, 0, 255)))
    assert response.status_code == 500
    assert response.json()["code"] == codes.LOGO_DB_ERROR.number
    config.refresh_from_db()
    assert config.logo.name == old
    assert _stored(media) == [os.path.basename(old)]
    served = Client().get(f"/media/{old}")
    assert served.status_code == 200


def test_delete_logo_returns_1620(api, config, media, django_capture_on_commit_callbacks):
    _upload(api, _image())
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(URL)
    assert response.status_code == 200
    assert response.json()["code"] == codes.LOGO_UPDATED.number
    assert response.json()["data"]["logo"] is None
    config.refresh_from_db()
    assert not config.logo
    assert _stored(media) == []
