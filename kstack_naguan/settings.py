"""Settings for KStack Naguan, read from the environment (twelve-factor) with django-environ.

Secrets have no fallback: DJANGO_SECRET_KEY and KSTACK_FERNET_KEYS must be set, by the real
environment or by the git-ignored `.env` that `make demo` writes on its first run.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DJANGO_DEBUG=(bool, False),
    DJANGO_ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    DJANGO_CSRF_TRUSTED_ORIGINS=(list, []),
    CORS_ALLOWED_ORIGINS=(list, []),
    KSTACK_SECURE_COOKIES=(bool, True),
    KSTACK_MAX_UPLOAD_BYTES=(int, 2 * 1024 * 1024),
    KSTACK_VCENTER_TIMEOUT=(int, 60),
    KSTACK_VCENTER_TASK_TIMEOUT=(int, 1800),
    KSTACK_VCENTER_REQUEST_TIMEOUT=(int, 120),
    KSTACK_LOG_LEVEL=(str, "INFO"),
)

# An env file is read when present; `DJANGO_ENV_FILE=` (empty) switches that off, as tests do.
_env_file = os.environ.get("DJANGO_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file)


def _required(name):
    """Return the environment variable `name`, refusing to start without it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Run `make demo` once to write a local .env, or set it in the "
            "environment; there is no insecure default."
        )
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
FERNET_KEYS = [key.strip() for key in _required("KSTACK_FERNET_KEYS").split(",") if key.strip()]
DEBUG = env("DJANGO_DEBUG")
ALLOWED_HOSTS = env("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "corsheaders",
    "kstack_naguan",
    "accounts",
    "rbac",
    "platforms",
    "systemconfig",
    "audit",
    "vcenter",
]

MIDDLEWARE = [
    "kstack_naguan.api.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kstack_naguan.querylimits.AdminQueryLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.RequestLogMiddleware",
]

ROOT_URLCONF = "kstack_naguan.urls"
WSGI_APPLICATION = "kstack_naguan.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database serves concurrent requests too: a transaction takes the write lock
    # when it begins and a writer waits up to 20 s for it, instead of failing with "database is
    # locked" when two requests that read first both try to write; readers never wait (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese is the contract's language; `Accept-Language: en` switches to English.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
# WhiteNoise serves the static files (the admin's, Swagger UI's, the task log page's script)
# from any WSGI server, from STATIC_ROOT after collectstatic or from the apps without it.
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
KSTACK_MAX_UPLOAD_BYTES = env("KSTACK_MAX_UPLOAD_BYTES")
DATA_UPLOAD_MAX_MEMORY_SIZE = KSTACK_MAX_UPLOAD_BYTES + 64 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = KSTACK_MAX_UPLOAD_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kstack_naguan.api.permissions.ModelPermission"],
    "DEFAULT_RENDERER_CLASSES": ["kstack_naguan.api.renderers.EnvelopeRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "kstack_naguan.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "kstack_naguan.api.pagination.EnvelopePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "kstack_naguan.api.exceptions.envelope_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login": env("KSTACK_LOGIN_RATE", default="30/min"),
        # Failed logins per username and per client address (accounts/api/throttles.py).
        "login_user_failures": env("KSTACK_LOGIN_USER_FAILURES", default="5/15m"),
        "login_address_failures": env("KSTACK_LOGIN_ADDRESS_FAILURES", default="20/15m"),
        "password_change_failures": env("KSTACK_PASSWORD_CHANGE_FAILURES", default="5/15m"),
    },
    # The client address is REMOTE_ADDR; behind N reverse proxies, set KSTACK_NUM_PROXIES=N so
    # that the Nth address from the right of X-Forwarded-For counts, not one a client forged.
    "NUM_PROXIES": env.int("KSTACK_NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("KSTACK_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("KSTACK_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
    # A token carries a digest of its user's password hash: a changed or reset password ends
    # every access token issued before it at once (refresh tokens are blacklisted as well).
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "KStack Naguan API",
    "DESCRIPTION": "Management portal for VMware vCenter. Every response is an envelope "
    '`{"code", "msg", "data"}`; codes are listed in docs/error-codes.md.',
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every body is wrapped in the envelope, and the generic errors are listed (api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kstack_naguan.api.schema.envelope_postprocessing_hook",
    ],
}

# Celery: no broker configured means tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task whose worker vanished whole (SIGKILL, lost machine) goes back to the queue once its
# message has been unacknowledged this long: longer than the longest task, or it would run twice
# while still running.
KSTACK_BROKER_VISIBILITY_TIMEOUT = env.int("KSTACK_BROKER_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": KSTACK_BROKER_VISIBILITY_TIMEOUT}
# Portals (or test runs) sharing one Redis keep their queues apart with a key prefix.
if env("KSTACK_BROKER_KEY_PREFIX", default=""):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env("KSTACK_BROKER_KEY_PREFIX")
# The stale-task reaper (audit/reaper.py) ends TaskLogs silent for longer than this, after the
# broker has had its chance to deliver them again; beat runs it every five minutes.
KSTACK_TASK_STALE_SECONDS = env.int(
    "KSTACK_TASK_STALE_SECONDS", default=KSTACK_BROKER_VISIBILITY_TIMEOUT + 900
)
CELERY_IMPORTS = ["audit.reaper"]
CELERY_BEAT_SCHEDULE = {
    "audit.reap_stale_tasks": {"task": "audit.reap_stale_tasks", "schedule": 300.0},
}

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

KSTACK_VCENTER_TIMEOUT = env("KSTACK_VCENTER_TIMEOUT")
KSTACK_VCENTER_TASK_TIMEOUT = env("KSTACK_VCENTER_TASK_TIMEOUT")
KSTACK_VCENTER_REQUEST_TIMEOUT = env("KSTACK_VCENTER_REQUEST_TIMEOUT")

CORS_ALLOWED_ORIGINS = env("CORS_ALLOWED_ORIGINS")
CORS_EXPOSE_HEADERS = ["X-Request-ID"]

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env("KSTACK_SECURE_COOKIES")
    CSRF_COOKIE_SECURE = env("KSTACK_SECURE_COOKIES")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
    SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "kstack_naguan.api.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("KSTACK_LOG_LEVEL")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
