"""Write the local, git-ignored `.env` with freshly generated secrets, unless it exists.

The settings refuse to start without DJANGO_SECRET_KEY and KSTACK_FERNET_KEYS; this gives a
local demo its own values on first run. Production sets them in its real environment.
"""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def main():
    """Create `.env` with generated secrets; leave an existing one untouched."""
    if ENV_FILE.exists():
        return 0
    lines = [
        "# Written by `make demo` on first run. Local only: git ignores this file.",
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}",
        f"KSTACK_FERNET_KEYS={Fernet.generate_key().decode()}",
        "DJANGO_DEBUG=false",
        "KSTACK_SECURE_COOKIES=false",
        "",
    ]
    ENV_FILE.write_text("\n".join(lines), encoding="utf-8")
    ENV_FILE.chmod(0o600)
    print(f"wrote {ENV_FILE} with generated secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
