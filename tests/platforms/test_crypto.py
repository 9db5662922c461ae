"""Platform passwords at rest: ciphertext in the table, readable across a key rotation."""

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import EventLog
from kstack_naguan import crypto
from platforms.models import CloudPlatform
from tests.factories import CloudPlatformFactory

pytestmark = pytest.mark.django_db

OLD_SECRET = "Old-Secret-before-rotation"


def _raw(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM platforms_cloudplatform WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def keys(settings):
    """Change KSTACK_FERNET_KEYS for one test: `keys(new, old, ...)`."""

    def use(*key_list):
        settings.FERNET_KEYS = list(key_list)
        crypto.reset_keys()

    yield use
    crypto.reset_keys()


def test_stored_password_is_ciphertext_in_the_table():
    platform = CloudPlatformFactory(password=OLD_SECRET)
    raw = _raw(platform.pk)
    assert OLD_SECRET not in raw
    assert OLD_SECRET.encode().hex() not in raw
    assert raw.startswith("gAAAAA")
    assert CloudPlatform.objects.get(pk=platform.pk).password == OLD_SECRET


def test_rotate_keys_keeps_old_rows_readable_and_rotate_secrets_reencrypts(keys, settings):
    old_key, new_key = settings.FERNET_KEYS[0], Fernet.generate_key().decode()
    platform = CloudPlatformFactory(name="old-row", password=OLD_SECRET)
    old_raw = _raw(platform.pk)

    # A new key in front: the old row is still readable, new rows use the new key.
    keys(new_key, old_key)
    assert CloudPlatform.objects.get(pk=platform.pk).password == OLD_SECRET
    fresh = CloudPlatformFactory(name="new-row", password="fresh-secret")
    assert Fernet(new_key.encode()).decrypt(_raw(fresh.pk).encode()) == b"fresh-secret"

    # rotate_secrets re-encrypts the old row only.
    call_command("rotate_secrets", "--json", stdout=(out := StringIO()))
    report = json.loads(out.getvalue())
    assert report == {"rotated": ["old-row"], "current": 1, "failed": [], "dry_run": False}
    new_raw = _raw(platform.pk)
    assert new_raw != old_raw and OLD_SECRET not in new_raw
    assert Fernet(new_key.encode()).decrypt(new_raw.encode()) == OLD_SECRET.encode()
    event = EventLog.objects.get(action="rotate_secrets")
    assert event.after == {"rotated": ["old-row"], "failed": []}

    # With the old key dropped, everything is still readable.
    keys(new_key)
    assert CloudPlatform.objects.get(pk=platform.pk).password == OLD_SECRET
    assert CloudPlatform.objects.get(pk=fresh.pk).password == "fresh-secret"


def test_rotate_secrets_dry_run_changes_nothing(keys, settings):
    platform = CloudPlatformFactory(name="kept", password=OLD_SECRET)
    raw = _raw(platform.pk)
    keys(Fernet.generate_key().decode(), settings.FERNET_KEYS[0])
    call_command("rotate_secrets", "--dry-run", stdout=(out := StringIO()))
    assert "would re-encrypt 1 password(s)" in out.getvalue()
    assert _raw(platform.pk) == raw
    assert not EventLog.objects.filter(action="rotate_secrets").exists()


def test_rotate_secrets_reports_unreadable_rows_and_fails(keys):
    platform = CloudPlatformFactory(name="orphan", password=OLD_SECRET)
    raw = _raw(platform.pk)
    keys(Fernet.generate_key().decode())
    with pytest.raises(CommandError, match="orphan"):
        call_command("rotate_secrets", stdout=StringIO())
    assert _raw(platform.pk) == raw
