"""The portal's configuration: create, update, the logo, and the name the admin shows.

There is one `SystemConfig` row. Changes run in a transaction with their `EventLog` entry. The
logo is checked with Pillow (the bytes must decode as an image of an accepted format, whatever
the file is called), capped at `KSTACK_MAX_UPLOAD_BYTES`, stored under a generated name, and
the previous file is removed only once the new one is committed, so a failed upload leaves the
old logo in place. `site_name` is the cached portal name the admin's header and title show.
"""

import logging
import uuid
import warnings

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from PIL import Image, UnidentifiedImageError
from rest_framework import status as http_status

from audit.services import record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError

from .models import SystemConfig

logger = logging.getLogger(__name__)

DEFAULT_NAME = "KStack Naguan"
SITE_NAME_CACHE_KEY = "systemconfig:site-name"
SITE_NAME_CACHE_SECONDS = 300
LOGO_FORMATS = {
    "PNG": "png",
    "JPEG": "jpg",
    "GIF": "gif",
    "WEBP": "webp",
    "BMP": "bmp",
    "ICO": "ico",
}
MAX_LOGO_PIXELS = 4096 * 4096
_SUMMARY_FIELDS = ["name", "footer", "debug", "sync_interval_minutes", "log_retention_days"]


def config_summary(config):
    """A JSON summary of `config` for the event log."""
    return {
        **{field: getattr(config, field) for field in _SUMMARY_FIELDS},
        "logo": config.logo.name,
    }


def get_config():
    """The configuration row, or 1631/404 when none has been created."""
    config = SystemConfig.current()
    if config is None:
        raise ApiError(codes.CONFIG_NOT_FOUND, http_status.HTTP_404_NOT_FOUND)
    return config


def create_config(user, data):
    """Create the configuration row from validated `data` (1600); a second one is refused."""
    if SystemConfig.objects.exists():
        raise ApiError(
            codes.ALREADY_EXISTS,
            http_status.HTTP_409_CONFLICT,
            detail="The system configuration already exists; change it with PUT or PATCH.",
        )
    config = SystemConfig(**data)
    try:
        with transaction.atomic():
            config.save()
            record_event(user, "create", config, after=config_summary(config))
    except DatabaseError:
        logger.exception("creating the system configuration failed")
        raise ApiError(
            codes.CONFIG_CREATE_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR
        ) from None
    logger.info("system configuration created (%r)", config.name)
    return config


def update_config(user, config, data):
    """Apply validated `data` to `config` (1610; 1612 when the database fails)."""
    before = config_summary(config)
    for field, value in data.items():
        setattr(config, field, value)
    after = config_summary(config)
    changed = sorted(field for field in after if before[field] != after[field])
    try:
        with transaction.atomic():
            config.save()
            record_event(
                user,
                "update",
                config,
                before=before,
                after=after,
                message="changed: " + (", ".join(changed) or "nothing"),
            )
    except DatabaseError:
        logger.exception("updating the system configuration failed")
        raise ApiError(
            codes.CONFIG_UPDATE_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR
        ) from None
    logger.info("system configuration updated: %s", ", ".join(changed) or "nothing")
    return config


def max_logo_request_bytes():
    """The largest multipart request a logo upload may declare: the cap plus form overhead."""
    return settings.KSTACK_MAX_UPLOAD_BYTES + 64 * 1024


def _bad_logo(reason):
    return ApiError(
        codes.INVALID_INPUT, http_status.HTTP_400_BAD_REQUEST, {"errors": {"logo": [reason]}}
    )


def check_logo(upload):
    """Return the file extension for `upload` if it is an image we accept, else raise.

    910/413 over the size cap; 908/400 with the reason for anything Pillow cannot decode, a
    format outside `LOGO_FORMATS` or more than `MAX_LOGO_PIXELS` pixels.
    """
    if upload is None or not hasattr(upload, "read"):
        raise _bad_logo("Send the image as the multipart file field 'logo'.")
    cap = settings.KSTACK_MAX_UPLOAD_BYTES
    if upload.size > cap:
        raise ApiError(
            codes.REQUEST_TOO_LARGE,
            http_status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            {
                "errors": {
                    "logo": [f"The file has {upload.size} bytes; at most {cap} are accepted."]
                }
            },
        )
    if not upload.size:
        raise _bad_logo("The file is empty.")
    accepted = ", ".join(sorted(LOGO_FORMATS))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            with Image.open(upload) as image:
                image_format, (width, height) = image.format, image.size
                # Judge the header before decoding anything: a small file may claim huge sizes.
                if image_format not in LOGO_FORMATS:
                    raise _bad_logo(f"{image_format} images are not accepted; use {accepted}.")
                if width * height > MAX_LOGO_PIXELS:
                    raise _bad_logo(
                        f"The image is {width}x{height}; at most {MAX_LOGO_PIXELS} pixels."
                    )
                image.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bad_logo("The image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        logger.warning("logo upload refused: %s", type(exc).__name__)
        raise _bad_logo(f"The file is not an image that can be read ({accepted}).") from None
    finally:
        upload.seek(0)
    return LOGO_FORMATS[image_format]


def set_logo(user, config, upload):
    """Store `upload` as the logo of `config` (1620); on any failure the old logo stays."""
    extension = check_logo(upload)
    storage = config.logo.storage
    old_name = config.logo.name
    new_name = storage.save(f"logo/{uuid.uuid4().hex}.{extension}", upload)
    try:
        with transaction.atomic():
            config.logo = new_name
            config.save(update_fields=["logo", "updated_at"])
            record_event(
                user, "update_logo", config, before={"logo": old_name}, after={"logo": new_name}
            )
    except DatabaseError:
        config.logo = old_name
        storage.delete(new_name)
        logger.exception("storing the logo failed; the previous logo is kept")
        raise ApiError(codes.LOGO_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR) from None
    if old_name and old_name != new_name:
        transaction.on_commit(lambda: storage.delete(old_name))
    logger.info("logo replaced: %s", new_name)
    return config


def remove_logo(user, config):
    """Remove the logo of `config` (1620); the file goes once the change is committed."""
    old_name = config.logo.name
    if not old_name:
        return config
    try:
        with transaction.atomic():
            config.logo = ""
            config.save(update_fields=["logo", "updated_at"])
            record_event(user, "update_logo", config, before={"logo": old_name}, after={"logo": ""})
    except DatabaseError:
        config.logo = old_name
        logger.exception("removing the logo failed")
        raise ApiError(codes.LOGO_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR) from None
    storage = config.logo.storage
    transaction.on_commit(lambda: storage.delete(old_name))
    return config


def site_name():
    """The portal's configured name, cached for a few minutes (and dropped when it changes)."""
    name = cache.get(SITE_NAME_CACHE_KEY)
    if name is None:
        try:
            config = SystemConfig.objects.order_by("id").only("name").first()
        except DatabaseError:  # no table yet (before migrate) or the database is away
            return DEFAULT_NAME
        name = config.name if config is not None and config.name else DEFAULT_NAME
        cache.set(SITE_NAME_CACHE_KEY, name, SITE_NAME_CACHE_SECONDS)
    return name


def forget_site_name(**kwargs):
    """Drop the cached name; connected to the configuration's save and delete signals."""
    cache.delete(SITE_NAME_CACHE_KEY)
