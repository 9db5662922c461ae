"""No password or token leaks: after a run that logs in, creates, updates and tests a platform,
none of them is in an API response, a request-log or event-log row, a log line or an exception."""

import json
import logging

import pytest
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from audit.models import EventLog, RequestLog, TaskLog
from kstack_naguan.api import codes
from platforms import services as platform_services
from platforms.models import CloudPlatform
from tests.factories import DEFAULT_PASSWORD, PlatformTypeFactory
from vcenter.client import VCenterAuthError, client_for_platform

pytestmark = [pytest.mark.django_db, pytest.mark.vcsim]

WRONG_VC_PASSWORD = "Wrong-VC-Pass-7731"
FAILED_LOGIN_PASSWORD = "Guessing-Pass-0042"


def _exception_texts(exc):
    texts = []
    while exc is not None:
        texts += [str(exc), repr(exc), repr(exc.args)]
        exc = exc.__cause__ or exc.__context__
    return texts


def test_no_secret_leaks_from_a_full_platform_run(admin_user, vcsim, caplog):
    caplog.set_level(logging.DEBUG)
    client = APIClient()
    responses = []

    def call(method, url, data=None, **kwargs):
        response = getattr(client, method)(url, data, format="json", **kwargs)
        responses.append(response)
        return response

    # Log in (a failed attempt first), then act with the access token.
    assert (
        call(
            "post", "/api/auth/login", {"username": "admin", "password": FAILED_LOGIN_PASSWORD}
        ).json()["code"]
        == codes.LOGIN_BAD_PASSWORD.number
    )
    login = call("post", "/api/auth/login", {"username": "admin", "password": DEFAULT_PASSWORD})
    assert login.json()["code"] == codes.LOGIN_OK.number
    tokens = {key: login.json()["data"][key] for key in ("access", "refresh")}
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    # Create with a wrong password, test (refused), fix the password, test (accepted), update.
    created = call(
        "post",
        "/api/platforms/",
        {
            "name": "sim-secret",
            "platform_type": PlatformTypeFactory(name="vCenter").pk,
            "host": vcsim.host,
            "port": vcsim.port,
            "protocol": vcsim.protocol,
            "username": vcsim.username,
            "password": WRONG_VC_PASSWORD,
            "verify_tls": False,
        },
    )
    assert created.status_code == 201
    pk = created.json()["data"]["id"]
    refused = call("post", f"/api/platforms/{pk}/test-connection")
    assert refused.json()["code"] == codes.CONNECTION_FAILED.number
    call("patch", f"/api/platforms/{pk}", {"password": vcsim.password})
    accepted = call("post", f"/api/platforms/{pk}/test-connection")
    assert accepted.json()["code"] == codes.CONNECTION_OK.number
    call("put", f"/api/platforms/{pk}", {**_full(pk), "password": vcsim.password})
    call("get", f"/api/platforms/{pk}")
    call("get", "/api/platforms/", {"password": vcsim.password, "token": tokens["access"]})
    refreshed = call("post", "/api/auth/refresh", {"refresh": tokens["refresh"]})
    assert refreshed.json()["code"] == codes.TOKEN_REFRESHED.number
    new_tokens = {key: refreshed.json()["data"][key] for key in ("access", "refresh")}
    call("get", "/api/logs/requests/", {"page_size": 200})
    call("get", "/api/logs/events/", {"page_size": 200})

    # The exceptions raised on the way: a refused vCenter login and an unreadable secret.
    platform = CloudPlatform.objects.get(pk=pk)
    platform.password = WRONG_VC_PASSWORD
    with pytest.raises(VCenterAuthError) as refused_login:
        platform_services.test_connection(admin_user, platform)
    with pytest.raises(VCenterAuthError) as pooled_refusal:
        client_for_platform(platform).about()
    exceptions = _exception_texts(refused_login.value) + _exception_texts(pooled_refusal.value)

    passwords = [DEFAULT_PASSWORD, FAILED_LOGIN_PASSWORD, WRONG_VC_PASSWORD, vcsim.password]
    issued = [(login, tokens), (refreshed, new_tokens)]
    all_tokens = [*tokens.values(), *new_tokens.values()]
    secrets = [*passwords, *all_tokens]

    # API responses: a token only in the answer that issues it, a password in none.
    for response in responses:
        text = response.content.decode()
        allowed = next((set(pair.values()) for r, pair in issued if r is response), set())
        for secret in secrets:
            if secret not in allowed:
                assert secret not in text, (
                    f"a secret is in the answer to {response.wsgi_request.path}"
                )

    # Rows, log lines and exception messages.
    rows = [model_to_dict(r) for r in RequestLog.objects.all()]
    rows += [model_to_dict(r) for r in EventLog.objects.all()]
    rows += [model_to_dict(r) for r in TaskLog.objects.all()]
    haystacks = {
        "request/event/task log rows": json.dumps(rows, default=str, ensure_ascii=False),
        "log output": caplog.text,
        "exception messages": "\n".join(exceptions),
    }
    assert RequestLog.objects.count() >= len(responses)
    assert EventLog.objects.filter(object_type="platforms.CloudPlatform").count() >= 4
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:4]}...) is in the {where}"
    assert "refused the login" in haystacks["exception messages"]
    assert "sim-secret" in haystacks["log output"]


def _full(pk):
    platform = CloudPlatform.objects.get(pk=pk)
    return {
        "name": platform.name,
        "platform_type": platform.platform_type_id,
        "host": platform.host,
        "port": platform.port,
        "protocol": platform.protocol,
        "username": platform.username,
        "verify_tls": platform.verify_tls,
        "remarks": "updated with PUT",
    }
