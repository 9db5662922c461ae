"""Settings for the test suite: the project's own, with test secrets and fast hashing.

DATABASE_URL, CELERY_BROKER_URL and REDIS_URL still come from the environment, so CI runs the
same suite on PostgreSQL with a real worker on Redis, and a laptop on SQLite with eager Celery.
"""

import os

from cryptography.fernet import Fernet

os.environ["DJANGO_ENV_FILE"] = ""  # a developer's .env must not leak into tests
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-" + Fernet.generate_key().decode())
os.environ.setdefault("KSTACK_FERNET_KEYS", Fernet.generate_key().decode())

from kstack_naguan import settings as _base  # noqa: E402

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = os.environ.get("KSTACK_TEST_MEDIA_ROOT", "/tmp/kstack-test-media")
KSTACK_VCENTER_TIMEOUT = 10
KSTACK_VCENTER_TASK_TIMEOUT = 60
REST_FRAMEWORK = {**_base.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "1000/min"}}

# Tests run tasks in-process unless a test asks for the real worker (the `celery_worker`
# fixture switches eager mode off and points the app at CELERY_BROKER_URL).
CELERY_TASK_ALWAYS_EAGER = True
