"""Sign-in and user management.

Sign-in checks credentials and issues JWT pairs with the seed's login codes. User management
creates, updates and deletes users and sets passwords (Django's validators and hashers), keeping
the rule that nobody raises their own rights: only a superuser grants superuser or staff status
or touches a superuser, nobody changes a user who holds a permission they do not, and roles are
assigned through the user-roles API alone. Nobody locks
the portal out either: no one deactivates, deletes or drops the superuser or staff flag of their
own account, and the last active superuser is never deactivated, demoted or deleted.
"""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status as http_status
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from audit.services import record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, database_error
from rbac.models import RoleBuiltinChoices
from rbac.services import check_assignable, grantable_roles, permissions_beyond

logger = logging.getLogger(__name__)


def issue_tokens(user):
    """Return a fresh access/refresh pair for `user`."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def login(username, password):
    """Authenticate `username` and return `(user, tokens)`, or raise the seed's login code.

    The username is matched ignoring case (usernames are unique that way), as the admin's
    sign-in does. Inactive users are refused as a wrong password is, so the answer does not tell
    a disabled account apart. An unknown user still costs one hash, so timing does not tell
    either.
    """
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(codes.LOGIN_EMPTY)
    username = username.strip()
    if not username or not password:
        raise ApiError(codes.LOGIN_EMPTY)

    # A name longer than any username can be is nobody's (and is not sent to the database).
    user_model = get_user_model()
    user = None
    if len(username) <= user_model._meta.get_field("username").max_length:
        user = user_model._default_manager.filter(username__iexact=username).first()
    if user is None:
        make_password(password)
        logger.warning("login refused: unknown user %r", username[:150])
        raise ApiError(codes.LOGIN_NO_USER, http_status.HTTP_401_UNAUTHORIZED)
    if not user.check_password(password) or not user.is_active:
        logger.warning("login refused: wrong password or inactive account for %r", user.username)
        raise ApiError(codes.LOGIN_BAD_PASSWORD, http_status.HTTP_401_UNAUTHORIZED)

    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    logger.info("login: %s", user.username)
    return user, issue_tokens(user)


# Users --------------------------------------------------------------------------------------

# Fields only a superuser may set, and fields that belong to the user-roles API instead.
PRIVILEGED_FIELDS = ("is_superuser", "is_staff")
ROLE_FIELDS = ("groups", "roles", "user_permissions")
PROFILE_FIELDS = ("username", "email", "real_name", "phone", "is_active")
SELF_FIELDS = ("email", "real_name", "phone")


def _forbid(detail):
    logger.warning("refused: %s", detail)
    return ApiError(codes.PERMISSION_DENIED, http_status.HTTP_403_FORBIDDEN, detail=detail)


def check_privileged_fields(actor, data, target=None):
    """Refuse a body that would raise anyone's rights beyond what `actor` may grant.

    Only a superuser sets `is_superuser`/`is_staff` or touches a superuser, nobody else touches
    a user who holds a permission they do not, and roles and permissions are never set here:
    the user-roles API owns them.
    """
    if not actor.is_superuser:
        named = sorted(set(data) & {*PRIVILEGED_FIELDS, *ROLE_FIELDS})
        if named:
            raise _forbid(f"only a superuser may set {', '.join(named)}")
        if target is not None and target.is_superuser:
            raise _forbid("only a superuser may change a superuser")
        beyond = permissions_beyond(actor, target) if target not in (None, actor) else []
        if beyond:
            raise _forbid(
                f"you cannot change a user who holds permissions you do not: {', '.join(beyond)}"
            )


def check_self_lockout(actor, user, data):
    """Refuse (1124, 400) a change by which `actor` would deactivate their own account or drop
    their own superuser or staff flag, as deleting oneself is refused (1112): nobody locks
    themselves out. Setting a flag to the value it has is no change and passes."""
    if user.pk != actor.pk:
        return
    dropped = sorted(f for f in ("is_active", *PRIVILEGED_FIELDS) if data.get(f) is False)
    dropped = [f for f in dropped if getattr(user, f)]
    if dropped:
        logger.warning("refused: %s would drop their own %s", actor.username, ", ".join(dropped))
        message = str(_("You cannot take this away from your own account."))
        raise ApiError(
            codes.USER_UPDATE_ERROR, data={"errors": {field: [message] for field in dropped}}
        )


def keep_an_active_superuser(user, code=codes.USER_UPDATE_ERROR):
    """Refuse (`code`, 409) when `user` is the last active superuser; call it inside the
    transaction that would deactivate, demote or delete them.

    It locks every active superuser's row until that transaction ends, so two superusers
    disabling each other at once are taken one after the other and the second is refused.
    """
    holders = (
        get_user_model()
        ._default_manager.select_for_update()
        .filter(is_superuser=True, is_active=True)
    )
    if not any(pk != user.pk for pk in holders.order_by("pk").values_list("pk", flat=True)):
        logger.warning("refused: %s is the last active superuser", user.username)
        raise ApiError(
            code,
            http_status.HTTP_409_CONFLICT,
            detail="the portal must keep at least one active superuser",
        )


def _loses_superuser(user, data):
    """True when applying `data` turns the active superuser `user` into something less."""
    if not (user.is_superuser and user.is_active):
        return False
    return data.get("is_active") is False or data.get("is_superuser") is False


def _clean(user, errors_code, exclude=()):
    """Run the model's validation (field formats and lengths), raising `errors_code` with fields."""
    try:
        user.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ApiError(errors_code, data={"errors": exc.message_dict}) from None


def _check_password(password, user, errors_code, field="password"):
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApiError(errors_code, data={"errors": {field: list(exc.messages)}}) from None


def find_conflict(username, email, exclude_pk=None):
    """Return the code for a username or e-mail another user holds in any case, or None."""
    others = get_user_model()._default_manager.exclude(pk=exclude_pk)
    if username is not None and others.filter(username__iexact=username).exists():
        return codes.USER_NAME_EXISTS
    if email is not None and others.filter(email__iexact=email).exists():
        return codes.USER_EMAIL_EXISTS
    return None


def _raise_conflict(code):
    field = "username" if code is codes.USER_NAME_EXISTS else "email"
    raise ApiError(code, http_status.HTTP_409_CONFLICT, data={"errors": {field: [code.msg]}})


def summary(user):
    """What the event log keeps of a user before and after a change (never the password)."""
    return {field: getattr(user, field) for field in (*PROFILE_FIELDS, *PRIVILEGED_FIELDS)}


def _save(user, error_code, conflict_check, event, guard=None):
    """Save `user` in its own transaction; the database's unique constraints have the last word.

    `guard`, when given, runs first inside the transaction and may refuse. A unique violation
    (two requests racing past the pre-check) becomes 1102/1103 after looking at what now holds
    the name; any other database failure becomes `error_code` with a 500.
    """
    try:
        with transaction.atomic():
            if guard is not None:
                guard()
            user.save()
            event()
    except IntegrityError:
        code = conflict_check()
        if code is None:
            logger.exception("saving user %r failed on a constraint", user.username)
            raise ApiError(error_code, http_status.HTTP_409_CONFLICT) from None
        _raise_conflict(code)
    except DatabaseError:
        logger.exception("saving user %r failed", user.username)
        raise database_error(error_code) from None


def default_roles(actor):
    """The roles a new user starts with when `actor` names none: the built-in ordinary-user role
    (read-only on the inventory), so a new account is not refused everywhere, provided `actor`
    holds every permission it grants; otherwise none, as nobody hands out more than they hold."""
    return list(grantable_roles(actor).filter(builtin=RoleBuiltinChoices.USER))


def _initial_roles(actor, user, roles):
    """The roles a new user starts with: those named (the user-roles API's rules: a
    non-superuser needs `rbac.assign_role` and may give only roles whose permissions they
    hold, 403 otherwise), or the default ones when `roles` is None."""
    if roles is None:
        return default_roles(actor)
    if roles and not actor.has_perm("rbac.assign_role"):
        raise _forbid("giving roles needs rbac.assign_role; leave roles out for the default")
    check_assignable(actor, user, roles)
    return roles


def create_user(actor, data):
    """Create a user from validated `data` (1100), or raise 1102/1103/1104 or 403.

    The user gets the roles `data` names, or the built-in ordinary-user role when it names
    none, in the same transaction.
    """
    data = dict(data)
    roles = data.pop("roles", None)
    check_privileged_fields(actor, data)
    password = data.pop("password")
    user = get_user_model()(**data)
    user.email = get_user_model()._default_manager.normalize_email(user.email)
    roles = _initial_roles(actor, user, roles)

    # Field formats, then the password policy, then what other users already hold.
    _clean(user, codes.USER_CREATE_ERROR, exclude=["password"])
    _check_password(password, user, codes.USER_CREATE_ERROR)
    code = find_conflict(user.username, user.email)
    if code is not None:
        _raise_conflict(code)

    def give_roles_and_record():
        user.groups.add(*roles)
        after = {**summary(user), "roles": sorted(role.name for role in roles)}
        record_event(actor, "user_created", user, after=after)

    user.set_password(password)
    _save(
        user,
        codes.USER_CREATE_ERROR,
        lambda: find_conflict(user.username, user.email),
        give_roles_and_record,
    )
    logger.info("user %s created by %s", user.username, actor.username)
    return user


def update_user(actor, user, data, error_code=codes.USER_UPDATE_ERROR):
    """Apply validated `data` to `user` (1120), or raise 1102/1103/`error_code` or 403.

    Nobody drops their own active, superuser or staff flag (400), and the last active superuser
    keeps both (409).
    """
    check_privileged_fields(actor, data, target=user)
    check_self_lockout(actor, user, data)
    loses_superuser = _loses_superuser(user, data)
    before = summary(user)
    for field, value in data.items():
        setattr(user, field, value)
    if "email" in data:
        user.email = get_user_model()._default_manager.normalize_email(user.email)

    _clean(user, error_code, exclude=["password"])
    # Compare the names as stored: `clean` normalises a username (NFKC) and an e-mail's domain.
    username = user.username if "username" in data else None
    email = user.email if "email" in data else None
    code = find_conflict(username, email, exclude_pk=user.pk)
    if code is not None:
        _raise_conflict(code)
    _save(
        user,
        error_code,
        lambda: find_conflict(username, email, exclude_pk=user.pk),
        lambda: record_event(actor, "user_updated", user, before=before, after=summary(user)),
        guard=(lambda: keep_an_active_superuser(user, error_code)) if loses_superuser else None,
    )
    logger.info("user %s updated by %s (%s)", user.username, actor.username, ", ".join(data))
    return user


def delete_user(actor, user):
    """Delete `user` (1110); nobody deletes themselves (1112, 400), only a superuser deletes a
    superuser, and never the last active one (1112, 409)."""
    check_privileged_fields(actor, {}, target=user)
    if user.pk == actor.pk:
        raise ApiError(codes.USER_DELETE_ERROR, detail="you cannot delete your own account")
    username, pk, before = user.username, user.pk, summary(user)
    try:
        with transaction.atomic():
            if user.is_superuser and user.is_active:
                keep_an_active_superuser(user, codes.USER_DELETE_ERROR)
            user.delete()
            record_event(
                actor,
                "user_deleted",
                object_type=user._meta.label,
                object_id=pk,
                object_repr=username,
                before=before,
            )
    except DatabaseError:
        logger.exception("deleting user %r failed", username)
        raise database_error(codes.USER_DELETE_ERROR) from None
    logger.info("user %s deleted by %s", username, actor.username)


def _revoke_refresh_tokens(user):
    """Blacklist every refresh token issued to `user`, so a changed password ends old sessions."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


def _store_password(actor, user, password, error_code, action):
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(update_fields=["password"])
            _revoke_refresh_tokens(user)
            record_event(actor, action, user)
    except DatabaseError:
        logger.exception("storing the password of %r failed", user.username)
        raise database_error(error_code) from None


def reset_password(actor, user, password):
    """An administrator sets `user`'s password (933); the user's refresh tokens stop working."""
    check_privileged_fields(actor, {}, target=user)
    if user.pk == actor.pk:
        raise ApiError(
            codes.USER_UPDATE_ERROR,
            data={"errors": {"password": ["Change your own password with users/me/password."]}},
        )
    _check_password(password, user, codes.USER_UPDATE_ERROR)
    _store_password(actor, user, password, codes.USER_UPDATE_ERROR, "password_reset")
    logger.info("password of %s reset by %s", user.username, actor.username)


def change_own_password(user, old_password, new_password, on_wrong_old_password=None):
    """The signed-in user replaces their password, proving the old one; returns a fresh pair.

    `on_wrong_old_password()` is called before a wrong old password is refused (the view counts
    the failure against its throttle)."""
    if not user.check_password(old_password):
        logger.warning("password change refused for %s: wrong old password", user.username)
        if on_wrong_old_password is not None:
            on_wrong_old_password()
        raise ApiError(
            codes.USER_UPDATE_ERROR,
            data={"errors": {"old_password": [str(_("The old password is wrong."))]}},
        )
    _check_password(new_password, user, codes.USER_UPDATE_ERROR, field="new_password")
    _store_password(user, user, new_password, codes.USER_UPDATE_ERROR, "password_changed")
    logger.info("password changed by %s", user.username)
    return issue_tokens(user)
