"""Settings for the test suite: the project's own, with test secrets and fast hashing.

DATABASE_URL, CELERY_BROKER_URL and REDIS_URL still come from the environment, so CI runs the
same suite on PostgreSQL with a real worker on Redis, and a laptop on SQLite with eager Celery.
"""

import os
import tempfile

from cryptography.fernet import Fernet

os.environ["DJANGO_ENV_FILE"] = ""  # a developer's .env must not leak into tests
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-" + Fernet.generate_key().decode())
os.environ.setdefault("KSTACK_FERNET_KEYS", Fernet.generate_key().decode())

from kstack_naguan import settings as _base  # noqa: E402

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A media folder per test process: parallel workers must not see each other's uploads.
MEDIA_ROOT = os.environ.get("KSTACK_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="kstack-media-")
# WhiteNoise serves the apps' own static files in tests (no collectstatic); an empty root.
STATIC_ROOT = tempfile.mkdtemp(prefix="kstack-static-")
KSTACK_VCENTER_TIMEOUT = 10
KSTACK_VCENTER_TASK_TIMEOUT = 60
REST_FRAMEWORK = {
    **_base.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "login": "1000/min",
        "login_user_failures": "1000/min",
        "login_address_failures": "1000/min",
        "password_change_failures": "1000/min",
    },
}

# Tests run tasks in-process unless a test asks for the real worker (the `celery_worker`
# fixture switches eager mode off and points the app at CELERY_BROKER_URL).
CELERY_TASK_ALWAYS_EAGER = True

# Each pytest-xdist worker gets a Redis database of its own for the cache (its Celery worker
# processes inherit the same choice through the environment), so tests can clear the cache
# without touching another worker's keys.
if _base.REDIS_URL:
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    _db = 2 + (int(_worker) if _worker.isdigit() else 0) % 10
    _location = (
        _base.REDIS_URL.rsplit("/", 1)[0] if _base.REDIS_URL.count("/") > 2 else _base.REDIS_URL
    )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{_location}/{_db}",
        }
    }
