"""Changes to platform types and cloud platforms, with their event-log entries.

Views hand these functions validated data; each change runs in one transaction together with its
`EventLog` row and answers with the seed's code when the database refuses it. Event summaries
describe a platform without its password: `has_password` and, on update, whether it changed.
`test_connection` logs into the platform's vCenter with a session of its own and reads `about`;
`rotate_passwords` re-encrypts stored passwords under the newest Fernet key.
"""

import logging

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status as http_status

from audit.services import record_event
from kstack_naguan import crypto
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error
from vcenter.client import VCenterClient

from .models import PASSWORD_AGAIN, CloudPlatform, PlatformType

logger = logging.getLogger(__name__)

_PLATFORM_FIELDS = [
    "name",
    "host",
    "port",
    "protocol",
    "username",
    "verify_tls",
    "is_active",
    "remarks",
]


def platform_summary(platform):
    """A JSON summary of `platform` for the event log; the password is never part of it."""
    summary = {field: getattr(platform, field) for field in _PLATFORM_FIELDS}
    summary["remarks"] = summary["remarks"][:200]
    summary["platform_type"] = platform.platform_type.name if platform.platform_type_id else None
    summary["has_password"] = bool(platform.password_encrypted)
    return summary


def platform_type_summary(platform_type):
    """A JSON summary of `platform_type` for the event log."""
    return {"name": platform_type.name, "description": platform_type.description}


def _duplicate(model, name):
    return model.objects.filter(name=name).exists()


def _save(obj, user, action, *, before, summary, db_error_code, message=""):
    """Save `obj` and write its event in one transaction; map a refusal to a response code."""
    try:
        with transaction.atomic():
            obj.save()
            record_event(user, action, obj, before=before, after=summary(obj), message=message)
    except IntegrityError:
        # A concurrent request may have taken the name between validation and save.
        if _duplicate(type(obj), obj.name):
            raise ApiError(
                codes.PLATFORM_NAME_EXISTS,
                http_status.HTTP_409_CONFLICT,
                {"errors": {"name": [f"{obj.name!r} already exists."]}},
            ) from None
        logger.exception("%s of %s %r failed", action, type(obj).__name__, obj.name)
        raise ApiError(db_error_code, http_status.HTTP_500_INTERNAL_SERVER_ERROR) from None
    except DatabaseError:
        logger.exception("%s of %s %r failed", action, type(obj).__name__, obj.name)
        raise ApiError(db_error_code, http_status.HTTP_500_INTERNAL_SERVER_ERROR) from None
    logger.info("%s %s %r (id %s)", action, type(obj).__name__, obj.name, obj.pk)
    return obj


def create_platform_type(user, data):
    """Create a platform type from validated `data` (1500; 1502 for a taken name; 1503)."""
    platform_type = PlatformType(**data)
    return _save(
        platform_type,
        user,
        "create",
        before=None,
        summary=platform_type_summary,
        db_error_code=codes.PLATFORM_CREATE_DB_ERROR,
    )


def update_platform_type(user, platform_type, data):
    """Apply validated `data` to `platform_type` (1520; 1502 for a taken name; 1522)."""
    before = platform_type_summary(platform_type)
    for field, value in data.items():
        setattr(platform_type, field, value)
    return _save(
        platform_type,
        user,
        "update",
        before=before,
        summary=platform_type_summary,
        db_error_code=codes.PLATFORM_UPDATE_DB_ERROR,
        message="changed: " + ", ".join(sorted(data)),
    )


def delete_platform_type(user, platform_type):
    """Delete an unused platform type; one that platforms still use is refused with 912/409."""
    in_use = list(platform_type.platforms.order_by("name").values_list("name", flat=True)[:20])
    if in_use:
        raise ApiError(
            codes.IN_USE,
            http_status.HTTP_409_CONFLICT,
            {"platforms": in_use},
            detail=f"Platform type {platform_type.name!r} is used by {len(in_use)} or more "
            "platform(s); delete or move them first.",
        )
    summary = platform_type_summary(platform_type)
    pk, name = platform_type.pk, platform_type.name
    try:
        with transaction.atomic():
            platform_type.delete()
            record_event(
                user,
                "delete",
                object_type=PlatformType._meta.label,
                object_id=pk,
                object_repr=name,
                before=summary,
            )
    except (ProtectedError, RestrictedError):
        raise ApiError(
            codes.IN_USE,
            http_status.HTTP_409_CONFLICT,
            detail=f"Platform type {name!r} is in use; delete or move its platforms first.",
        ) from None
    except DatabaseError:
        logger.exception("delete of platform type %r failed", name)
        raise ApiError(
            codes.PLATFORM_DELETE_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR
        ) from None
    logger.info("deleted platform type %r (id %s)", name, pk)
    return {"id": pk, "name": name}


def create_platform(user, data):
    """Create a platform from validated `data`; the password is encrypted before it is stored."""
    data = dict(data)
    password = data.pop("password", "")
    platform = CloudPlatform(**data)
    platform.password = password
    return _save(
        platform,
        user,
        "create",
        before=None,
        summary=platform_summary,
        db_error_code=codes.PLATFORM_CREATE_DB_ERROR,
    )


def update_platform(user, platform, data):
    """Apply validated `data` to `platform`; an empty or absent password keeps the stored one,
    except where the change would send it elsewhere (1524: give the password again)."""
    data = dict(data)
    password = data.pop("password", "")
    exposing = platform.exposing_changes(**data) if platform.password_encrypted else []
    if exposing and not password:
        logger.warning("refused: platform %r endpoint change without its password", platform.name)
        raise validation_error(
            codes.PLATFORM_UPDATE_BAD_PARAMS,
            {"password": [str(PASSWORD_AGAIN) % {"fields": ", ".join(exposing)}]},
        )
    before = platform_summary(platform)
    for field, value in data.items():
        setattr(platform, field, value)
    after = platform_summary(platform)
    changed = sorted(field for field in after if before[field] != after[field])
    if password:
        platform.password = password
        changed.append("password")
    return _save(
        platform,
        user,
        "update",
        before=before,
        summary=platform_summary,
        db_error_code=codes.PLATFORM_UPDATE_DB_ERROR,
        message="changed: " + (", ".join(changed) or "nothing"),
    )


def delete_platform(user, platform):
    """Delete `platform` and its inventory mirror; return how many rows went, per model."""
    summary = platform_summary(platform)
    pk, name = platform.pk, platform.name
    try:
        with transaction.atomic():
            total, per_model = platform.delete()
            record_event(
                user,
                "delete",
                object_type=CloudPlatform._meta.label,
                object_id=pk,
                object_repr=name,
                before=summary,
                after={"deleted": per_model},
                message=f"deleted {total} row(s) with the platform",
            )
    except (ProtectedError, RestrictedError) as exc:
        blocking = sorted({obj._meta.label for obj in exc.protected_objects or []})
        raise ApiError(
            codes.IN_USE,
            http_status.HTTP_409_CONFLICT,
            {"blocked_by": blocking},
            detail=f"Platform {name!r} is still referenced and cannot be deleted.",
        ) from None
    except DatabaseError:
        logger.exception("delete of platform %r failed", name)
        raise ApiError(
            codes.PLATFORM_DELETE_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR
        ) from None
    logger.info("deleted platform %r (id %s) and %s row(s) with it", name, pk, total - 1)
    return {"id": pk, "name": name, "total": total, "deleted": dict(sorted(per_model.items()))}


def test_connection(user, platform):
    """Log into `platform`'s vCenter with a session of its own and return its `about` data.

    Raises `vcenter.client.VCenterError` (unreachable, refused login, fault) or
    `kstack_naguan.crypto.DecryptionError` when the stored password cannot be read with the
    configured keys; either way the attempt is in the event log.
    """
    try:
        client = VCenterClient(
            platform.host,
            platform.port,
            platform.username,
            platform.password,
            protocol=platform.protocol,
            verify_tls=platform.verify_tls,
        )
        try:
            about = client.about()
        finally:
            client.close()
    except Exception as exc:
        record_event(user, "test_connection", platform, message=f"failed: {exc}"[:1000])
        logger.warning("connection test of platform %r failed: %s", platform.name, exc)
        raise
    record_event(user, "test_connection", platform, message=f"{about['name']} ({about['version']})")
    logger.info("connection test of platform %r: %s", platform.name, about["version"])
    return about


def rotate_passwords(*, dry_run=False):
    """Re-encrypt every stored password not yet under the newest key; report what happened.

    Returns `{"rotated": [...], "current": n, "failed": [...]}` with platform names; a password
    that no configured key can read is left as it is and listed under `failed`.
    """
    rotated, failed, current = [], [], 0
    with transaction.atomic():
        platforms = (
            CloudPlatform.objects.select_for_update()
            .exclude(password_encrypted="")
            .only("id", "name", "password_encrypted")
            .order_by("id")
        )
        for platform in platforms:
            token = platform.password_encrypted
            if crypto.is_current(token):
                current += 1
                continue
            try:
                new_token = crypto.rotate(token)
            except crypto.DecryptionError:
                failed.append(platform.name)
                continue
            if not dry_run:
                CloudPlatform.objects.filter(pk=platform.pk).update(password_encrypted=new_token)
            rotated.append(platform.name)
        if rotated and not dry_run:
            record_event(
                None,
                "rotate_secrets",
                object_type=CloudPlatform._meta.label,
                after={"rotated": rotated, "failed": failed},
                message=f"re-encrypted {len(rotated)} platform password(s) under the newest key",
            )
    if failed:
        logger.warning("%s platform password(s) cannot be decrypted: %s", len(failed), failed)
    logger.info("rotated %s platform password(s), %s already current", len(rotated), current)
    return {"rotated": rotated, "current": current, "failed": failed, "dry_run": dry_run}
