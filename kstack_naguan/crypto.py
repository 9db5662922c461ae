"""Encryption at rest for stored secrets (vCenter passwords) with Fernet from `cryptography`.

Keys come from `KSTACK_FERNET_KEYS`, comma-separated, newest first: new values are encrypted
with the first key and values written under any listed key stay readable, which is how a key is
rotated (`manage.py rotate_secrets` rewrites the rows under the newest key).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@cache
def _keys():
    try:
        fernets = [Fernet(key.encode()) for key in settings.FERNET_KEYS]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ImproperlyConfigured(
            "KSTACK_FERNET_KEYS must hold url-safe base64 Fernet keys "
            "(generate one with cryptography.fernet.Fernet.generate_key())."
        ) from exc
    if not fernets:
        raise ImproperlyConfigured("KSTACK_FERNET_KEYS lists no key.")
    return MultiFernet(fernets), fernets[0]


def _fernet():
    return _keys()[0]


def reset_keys():
    """Forget cached keys, for tests that change `settings.FERNET_KEYS`."""
    _keys.cache_clear()


def encrypt(plaintext):
    """Return the Fernet token for `plaintext` under the newest key."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token):
    """Return the plaintext of `token`, trying every configured key."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from exc


def rotate(token):
    """Re-encrypt `token` under the newest key, raising `DecryptionError` if no key reads it."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from exc


def is_current(token):
    """True when `token` is readable with the newest key, so rotating it would change nothing."""
    try:
        _keys()[1].decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError):
        return False
    return True
