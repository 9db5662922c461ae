"""Secrets stay secret, and production settings are what `check --deploy` asks for.

tests/audit/test_secrets.py follows login, token and vCenter passwords through a platform's
whole life; tests/platforms/test_crypto.py shows vCenter passwords stored as ciphertext. Here:
user passwords (create, reset, own change) and the server's keys never reach an answer, a log
row, a log line; the tracked files of the repository hold no key; production settings pass
`manage.py check --deploy`; the security headers and CORS for an SPA on another origin.
"""

import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from audit.models import EventLog, RequestLog
from kstack_naguan.api import codes

from ..conftest import REPO_ROOT
from ..factories import DEFAULT_PASSWORD
from .conftest import record_figure

SPA = "https://spa.example.com"


# Secrets in answers, rows and logs ---------------------------------------------------------


@pytest.mark.django_db
def test_user_passwords_and_server_keys_never_leave_the_server(api, admin_user, caplog):
    caplog.set_level(logging.DEBUG)
    created_password = "Violet-Harbor-" + secrets.token_hex(4)
    reset_password = "Copper-Meadow-" + secrets.token_hex(4)
    own_password = "Silver-Lantern-" + secrets.token_hex(4)
    responses = []

    def call(client, method, url, data=None):
        response = getattr(client, method)(url, data, format="json")
        responses.append(response)
        return response

    # A user is created with a password, has it reset, logs in and changes it, logs out.
    created = call(
        api,
        "post",
        "/api/users/",
        {"username": "carol", "email": "carol@example.test", "password": created_password},
    )
    assert created.json()["code"] == codes.USER_CREATED.number, created.json()
    user_id = created.json()["data"]["id"]
    reset = call(api, "post", f"/api/users/{user_id}/password", {"password": reset_password})
    assert reset.json()["code"] == codes.PASSWORD_CHANGED.number, reset.json()
    carol = APIClient()
    login = call(
        carol, "post", "/api/auth/login", {"username": "carol", "password": reset_password}
    )
    tokens = login.json()["data"]
    carol.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    changed = call(
        carol,
        "post",
        "/api/users/me/password",
        {"old_password": reset_password, "new_password": own_password},
    )
    assert changed.json()["code"] == codes.PASSWORD_CHANGED.number, changed.json()
    call(api, "get", "/api/users/", {"password": own_password})
    call(api, "get", "/api/logs/requests/", {"page_size": 200})
    call(api, "get", "/api/logs/events/", {"page_size": 200})
    call(api, "get", "/api/system-config/")

    # None of them, nor the server's keys, is in an answer, a log row or a log line.
    keys = [django_settings.SECRET_KEY, *django_settings.FERNET_KEYS]
    passwords = [created_password, reset_password, own_password, DEFAULT_PASSWORD]
    rows = [model_to_dict(r) for r in RequestLog.objects.all()]
    rows += [model_to_dict(r) for r in EventLog.objects.all()]
    haystacks = {
        "answers": "\n".join(r.content.decode() for r in responses if r is not login),
        "request and event log rows": json.dumps(rows, default=str, ensure_ascii=False),
        "log output": caplog.text,
    }
    assert RequestLog.objects.count() >= len(responses)
    for where, text in haystacks.items():
        for secret in passwords + keys:
            assert secret not in text, f"a secret ({secret[:4]}...) is in the {where}"
    assert "carol" in haystacks["request and event log rows"]
    record_figure("secrets_user_passwords", secrets_followed=len(passwords + keys), leaks=0)


# Secrets in the repository ------------------------------------------------------------------

_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_FERNET_KEY = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
_AWS_KEY = re.compile(r"AKIA[0-9A-Z]{16}")
_ENV_SECRET = re.compile(
    r"(?m)^\s*(DJANGO_SECRET_KEY|KSTACK_FERNET_KEYS)\s*=\s*[\"']?[A-Za-z0-9_+/=-]{16,}[\"']?\s*$"
)
_PASSWORD_LITERAL = re.compile(
    r"(?i)\b(secret_key|password|passwd|pwd|api_key|token)\b\s*[:=]\s*[\"'][^\"'\s]{6,}[\"']"
)
# Made-up passwords are test data: allowed in tests and benchmarks, nowhere else.
_TEST_DATA = ("tests/", "bench/")


def _tracked_files():
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name]


def test_secret_patterns_catch_planted_samples():
    header = "-----BEGIN " + "RSA PRIVATE KEY-----"
    assert _PRIVATE_KEY.search(header)
    assert _FERNET_KEY.search(f"keys = {Fernet.generate_key().decode()!r}")
    assert _ENV_SECRET.search("DJANGO_SECRET_KEY=" + secrets.token_urlsafe(40))
    assert not _ENV_SECRET.search("DJANGO_SECRET_KEY=secrets.token_urlsafe(50),")
    assert _PASSWORD_LITERAL.search('password = "Hunter-2-Hunter"')
    assert _JWT.search(".".join(["eyJhbGciOiJIUzI1NiJ9", "eyJ1c2VyX2lkIjoxfQ", "c2lnbmF0dXJl"]))


def test_tracked_files_hold_no_key_token_or_password():
    findings = []
    files = _tracked_files()
    for name in files:
        path = REPO_ROOT / name
        if re.search(r"(^|/)\.env$|\.pem$|\.key$|(^|/)id_(rsa|ed25519)", name):
            findings.append(f"{name}: a secret-bearing file is tracked")
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files (images) and files deleted in the work tree
        patterns = [_PRIVATE_KEY, _FERNET_KEY, _JWT, _AWS_KEY, _ENV_SECRET]
        if not name.startswith(_TEST_DATA):
            patterns.append(_PASSWORD_LITERAL)
        for pattern in patterns:
            for match in pattern.finditer(text):
                findings.append(f"{name}: {match.group(0)[:40]}...")
    assert not findings, "\n".join(findings)
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, ".env (written by make demo with secrets) is not ignored"
    record_figure("repo_secret_scan", files_scanned=len(files), findings=0)


# Production settings -----------------------------------------------------------------------


def _production_env(**overrides):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "kstack_naguan.settings",
        "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "KSTACK_FERNET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
        "DJANGO_HSTS_SECONDS": "31536000",
        "CORS_ALLOWED_ORIGINS": SPA,
        "DATABASE_URL": "sqlite:////tmp/kstack-deploy-check.sqlite3",
    }
    env.update(overrides)
    return env


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings():
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

    # The settings it judged: secure cookies, HSTS, HTTPS only, no debug.
    shown = _manage(
        _production_env(),
        "shell",
        "-c",
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n)"
        " for n in ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        " 'SESSION_COOKIE_HTTPONLY', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS',"
        " 'X_FRAME_OPTIONS', 'CORS_ALLOWED_ORIGINS']}))",
    )
    assert shown.returncode == 0, shown.stderr
    values = json.loads(shown.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "X_FRAME_OPTIONS": "DENY",
        "CORS_ALLOWED_ORIGINS": [SPA],
    }


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        ({"DJANGO_DEBUG": "true"}, "security.W018"),
        ({"DJANGO_SECRET_KEY": "short"}, "security.W009"),
        ({"DJANGO_HSTS_SECONDS": "0"}, "security.W004"),
        ({"KSTACK_SECURE_COOKIES": "false"}, "security.W012"),
    ],
)
def test_check_deploy_fails_on_each_weakened_setting(overrides, warning):
    result = _manage(_production_env(**overrides), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_settings_refuse_to_start_without_secrets():
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


# Headers and CORS ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_security_headers_on_api_and_admin(api, anon_api, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    for response in (
        api.get("/api/users/", secure=True),
        anon_api.get("/api/users/", secure=True),
        anon_api.get("/admin/login/", secure=True),
    ):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response["Strict-Transport-Security"].startswith("max-age=31536000")
        assert len(response["X-Request-ID"]) >= 8

    # Plain HTTP is redirected to HTTPS when the redirect is on.
    # (a fresh client: the security middleware reads its settings when it is built.)
    settings.SECURE_SSL_REDIRECT = True
    redirected = APIClient().get("/api/users/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")


@pytest.mark.django_db
def test_cors_preflight_allows_the_spa_origin_and_refuses_others(anon_api, settings):
    settings.CORS_ALLOWED_ORIGINS = [SPA]
    preflight = {
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type",
    }

    allowed = anon_api.options("/api/users/", HTTP_ORIGIN=SPA, **preflight)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == SPA
    assert "authorization" in allowed["Access-Control-Allow-Headers"].lower()
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in allowed

    refused = anon_api.options("/api/users/", HTTP_ORIGIN="https://evil.example.net", **preflight)
    assert "Access-Control-Allow-Origin" not in refused

    # A real request from the SPA can read the request id; from elsewhere it gets no grant.
    answer = anon_api.get("/api/users/", HTTP_ORIGIN=SPA)
    assert answer["Access-Control-Allow-Origin"] == SPA
    assert "x-request-id" in answer["Access-Control-Expose-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in anon_api.get(
        "/api/users/", HTTP_ORIGIN="https://evil.example.net"
    )
