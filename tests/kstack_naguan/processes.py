"""The environment of a child process that runs the project's own settings, as an operator's
shell would: a file SQLite database in `tmp_path`, fresh secrets, no `.env`."""

import os
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]


def project_env(tmp_path, **extra):
    """`os.environ` with the project's settings on a database of `tmp_path`, plus `extra`."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kstack_naguan.settings",
        "DJANGO_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "DJANGO_SECRET_KEY": "test-" + Fernet.generate_key().decode(),
        "KSTACK_FERNET_KEYS": Fernet.generate_key().decode(),
        **extra,
    }
