"""Sign-in: checks credentials and issues JWT pairs, answering with the seed's login codes."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from rest_framework import status as http_status
from rest_framework_simplejwt.tokens import RefreshToken

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError

logger = logging.getLogger(__name__)


def issue_tokens(user):
    """Return a fresh access/refresh pair for `user`."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def login(username, password):
    """Authenticate `username` and return `(user, tokens)`, or raise the seed's login code.

    Inactive users are refused as a wrong password is, so the answer does not tell a disabled
    account apart. An unknown user still costs one hash, so timing does not tell either.
    """
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(codes.LOGIN_EMPTY)
    username = username.strip()
    if not username or not password:
        raise ApiError(codes.LOGIN_EMPTY)

    user_model = get_user_model()
    user = user_model._default_manager.filter(username=username).first()
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
