"""`POST /api/platforms/{id}/test-connection` against the real simulator (vcsim)."""

import http.server
import threading

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from audit.models import EventLog
from kstack_naguan import crypto
from kstack_naguan.api import codes
from tests.conftest import vsphere_content
from tests.factories import CloudPlatformFactory

pytestmark = [pytest.mark.django_db, pytest.mark.vcsim]


def _test(api, platform):
    return api.post(f"/api/platforms/{platform.pk}/test-connection")


def test_test_connection_reports_the_vcenter_version(api, platform, vcsim):
    response = _test(api, platform)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.CONNECTION_OK.number
    si, content = vsphere_content(vcsim)
    assert body["data"]["version"] == content.about.version
    assert body["data"]["name"] == content.about.fullName
    assert body["data"]["api_type"] == "VirtualCenter"
    assert body["data"]["platform"] == platform.pk
    event = EventLog.objects.get(action="test_connection")
    assert event.object_id == str(platform.pk)
    assert content.about.version in event.message


def test_test_connection_logs_in_afresh_and_logs_out(api, platform, vcsim):
    si, content = vsphere_content(vcsim)
    before = {s.key for s in content.sessionManager.sessionList}
    assert _test(api, platform).status_code == 200
    after = {s.key for s in content.sessionManager.sessionList}
    # The test's own session was closed again: no session is left behind.
    assert after == before


def test_test_connection_with_wrong_password_returns_935(api, vcsim):
    platform = CloudPlatformFactory.for_simulator(vcsim, name="wrong")
    platform.password = "Not-The-Password-1"
    platform.save()
    response = _test(api, platform)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.CONNECTION_FAILED.number
    assert body["data"]["fault"] == "InvalidLogin"  # vim.fault.InvalidLogin
    assert vcsim.username in body["data"]["reason"]
    assert "Not-The-Password-1" not in response.content.decode()
    event = EventLog.objects.get(action="test_connection")
    assert event.message.startswith("failed:")


def test_test_connection_to_stopped_vcenter_returns_502_with_920(api, fresh_platform, vcsim_fresh):
    vcsim_fresh.stop()
    response = _test(api, fresh_platform)
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == codes.VCENTER_UNREACHABLE.number
    assert str(fresh_platform.port) in body["data"]["reason"]


def test_test_connection_to_a_web_server_that_is_no_vcenter_returns_502_with_920(api):
    """A plain HTTP server stands in for a mistyped port: vcsim cannot be something else."""

    class NotVCenter(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotVCenter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        platform = CloudPlatformFactory(port=server.server_port, protocol="http")
        response = _test(api, platform)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == codes.VCENTER_UNREACHABLE.number
    assert "did not answer as a vCenter" in body["data"]["reason"]


def test_test_connection_with_unreadable_password_returns_935(api, platform):
    with override_settings(FERNET_KEYS=[Fernet.generate_key().decode()]):
        crypto.reset_keys()
        try:
            response = _test(api, platform)
        finally:
            crypto.reset_keys()
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.CONNECTION_FAILED.number
    assert "cannot be decrypted" in body["data"]["reason"]


def test_test_connection_of_unknown_platform_returns_404(api):
    response = api.post("/api/platforms/424242/test-connection")
    assert response.status_code == 404
    assert response.json()["code"] == codes.NOT_FOUND.number
