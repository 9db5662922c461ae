import logging
from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status as http_status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.filters import UserFilterSet
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.responses import ApiResponse
from kstack_naguan.api.viewsets import EnvelopeModelViewSet

from .serializers import (
    LoginResultSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetSerializer,
    ProfileSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    TokenPairSerializer,
    UserSerializer,
    UserUpdateSerializer,
    UserWriteSerializer,
)
from .throttles import (
    LoginAddressFailureThrottle,
    LoginFailureThrottle,
    LoginUserFailureThrottle,
    PasswordChangeFailureThrottle,
)

logger = logging.getLogger(__name__)


class LoginView(APIView):
    """Exchange a username and password for a JWT pair (codes 1000-1003).

    Throttled (906, 429 with Retry-After): all attempts per address (`login` rate), and failed
    ones per username and per address (`accounts.api.throttles`).
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle, LoginUserFailureThrottle, LoginAddressFailureThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=LoginSerializer,
        responses={200: LoginResultSerializer, 429: OpenApiResponse(description="Throttled")},
    )
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        try:
            user, tokens = services.login(data.get("username"), data.get("password"))
        except ApiError as exc:
            if exc.code in (codes.LOGIN_NO_USER, codes.LOGIN_BAD_PASSWORD):
                for throttle in self.get_throttles():
                    if isinstance(throttle, LoginFailureThrottle):
                        throttle.record_failure(request, self)
            raise
        LoginUserFailureThrottle().reset(request, self)
        payload = {**tokens, "user": ProfileSerializer(user).data}
        return ApiResponse(codes.LOGIN_OK, payload)


class RefreshView(APIView):
    """Trade a refresh token for a new pair; the old refresh token is blacklisted."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        if not serializer.is_valid():
            raise ApiError(codes.INVALID_INPUT, data={"errors": serializer.errors})
        try:
            old = RefreshToken(serializer.validated_data["refresh"])
            user_id = old["user_id"]
            old.blacklist()
        except TokenError as exc:
            raise ApiError(
                codes.NOT_AUTHENTICATED, http_status.HTTP_401_UNAUTHORIZED, detail=exc
            ) from None
        user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise ApiError(codes.NOT_AUTHENTICATED, http_status.HTTP_401_UNAUTHORIZED)
        return ApiResponse(codes.TOKEN_REFRESHED, services.issue_tokens(user))


class LogoutView(APIView):
    """Blacklist a refresh token so it can no longer be refreshed.

    The refresh token is the credential: a client whose access token has expired can still
    revoke it, so this route, like refresh, needs no access token.
    """

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RefreshSerializer, responses={200: None})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        if not serializer.is_valid():
            raise ApiError(codes.INVALID_INPUT, data={"errors": serializer.errors})
        try:
            RefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            raise ApiError(codes.INVALID_INPUT, detail=exc) from None
        return ApiResponse(codes.LOGGED_OUT)


def _body(request):
    """The body as a plain dict, or None when it is not an object.

    `active`, the seed's name for the flag, is read as `is_active`.
    """
    if not isinstance(request.data, Mapping):
        return None
    body = {key: request.data[key] for key in request.data}
    if "active" in body and "is_active" not in body:
        body["is_active"] = body.pop("active")
    return body


def _parse(serializer_class, body, codes_for, partial=False):
    """Validate `body` with `serializer_class`, raising the code `codes_for(errors)` picks."""
    if body is None:
        raise ApiError(codes_for({}), data={"errors": {"non_field_errors": ["expected an object"]}})
    serializer = serializer_class(data=body, partial=partial)
    if not serializer.is_valid():
        raise ApiError(codes_for(serializer.errors), data={"errors": serializer.errors})
    return serializer.validated_data


def _has_error(errors, field, kinds):
    return any(getattr(e, "code", None) in kinds for e in errors.get(field, []))


_EMPTY = ("required", "blank", "null")


def _create_code(errors):
    if any(_has_error(errors, f, _EMPTY) for f in UserWriteSerializer.REQUIRED):
        return codes.USER_MISSING_PARAMS
    if "is_active" in errors:
        return codes.USER_BAD_ACTIVE
    return codes.USER_CREATE_ERROR


def _update_code(errors):
    if "is_active" in errors:
        return codes.USER_BAD_ACTIVE
    return codes.USER_UPDATE_ERROR


def _names_no_field(body, fields):
    """1122 when the body names none of `fields` (privileged names are judged before this)."""
    if not set(body or {}) & set(fields):
        raise ApiError(codes.USER_NO_FIELDS, data={"fields": sorted(fields)})


@extend_schema_view(
    list=extend_schema(responses=UserSerializer(many=True)),
    retrieve=extend_schema(responses=UserSerializer),
    create=extend_schema(request=UserWriteSerializer, responses={201: UserSerializer}),
    update=extend_schema(request=UserUpdateSerializer, responses=UserSerializer),
    partial_update=extend_schema(request=UserUpdateSerializer, responses=UserSerializer),
)
class UserViewSet(EnvelopeModelViewSet):
    """Users: CRUD (1100-1132), the caller's own record (`me`), and passwords.

    PUT and PATCH both change only the fields they name. The active flag is `is_active`;
    `active` (the seed's word) is accepted for it. Usernames, like e-mail addresses, are
    unique whatever their case: `ALICE` beside `alice` is 1103 (1102 for an e-mail).

    A create may name `roles` (role ids) under the user-roles API's rules (`rbac.assign_role`
    and only roles whose permissions the caller holds, 902 otherwise); a create naming none
    gives the new user the built-in ordinary-user role, `roles: []` gives none. After that,
    roles change through `/api/user-roles/` only.

    Nobody locks themselves out: deactivating one's own account or dropping one's own
    superuser or staff flag is 1124 (400, `errors` naming the field), as deleting oneself is
    1112. The last active superuser is never deactivated, demoted (1124) or deleted (1112):
    409, so two superusers disabling each other at once leave one.
    """

    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    search_fields = ["username", "email", "real_name", "phone"]
    ordering_fields = ["id", "username", "email", "date_joined", "last_login"]
    ordering = ["id"]
    queryset = get_user_model()._default_manager.prefetch_related(
        Prefetch("groups", queryset=Group.objects.only("id", "name"))
    )
    action_permissions = {
        "me": [],
        "me_password": [],
        "set_password": ["accounts.change_user"],
    }
    success_codes = {
        "list": codes.USER_QUERY_OK.number,
        "retrieve": codes.USER_QUERY_OK.number,
        "create": codes.USER_CREATED.number,
        "update": codes.USER_UPDATED.number,
        "partial_update": codes.USER_UPDATED.number,
        "destroy": codes.USER_DELETED.number,
    }
    not_found_codes = {
        "retrieve": codes.USER_QUERY_FAILED.number,
        "update": codes.USER_UPDATE_NOT_FOUND.number,
        "partial_update": codes.USER_UPDATE_NOT_FOUND.number,
        "destroy": codes.USER_DELETE_NOT_FOUND.number,
        "set_password": codes.USER_UPDATE_NOT_FOUND.number,
    }

    query_failed_code = codes.USER_QUERY_FAILED
    query_db_error_code = codes.USER_QUERY_DB_ERROR

    def create(self, request, *args, **kwargs):
        body = _body(request)
        named = sorted(set(body or {}) & {"groups", "user_permissions"})
        if named:  # refused, not silently dropped: a create names its roles as `roles`
            raise ApiError(
                codes.USER_CREATE_ERROR,
                data={"errors": {f: ["Name the user's roles as roles."] for f in named}},
            )
        data = _parse(UserWriteSerializer, body, _create_code)
        user = services.create_user(request.user, data)
        return ApiResponse(
            codes.USER_CREATED, UserSerializer(user).data, status=http_status.HTTP_201_CREATED
        )

    def update(self, request, *args, **kwargs):
        user = self.get_object()
        body = _body(request)
        services.check_privileged_fields(request.user, body or {}, target=user)
        _reject_foreign_fields(body or {})
        _names_no_field(body, UserUpdateSerializer().fields)
        data = _parse(UserUpdateSerializer, body, _update_code, partial=True)
        user = services.update_user(request.user, user, data)
        return ApiResponse(codes.USER_UPDATED, UserSerializer(user).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.delete_user(request.user, self.get_object())
        return ApiResponse(codes.USER_DELETED)

    @extend_schema(
        methods=["GET"], responses=ProfileSerializer, description="The caller's own record."
    )
    @extend_schema(
        methods=["PUT", "PATCH"], request=ProfileUpdateSerializer, responses=ProfileSerializer
    )
    @action(detail=False, methods=["get", "put", "patch"], url_path="me")
    def me(self, request):
        if request.method == "GET":
            return ApiResponse(codes.USER_QUERY_OK, ProfileSerializer(request.user).data)
        body = _body(request) or {}
        named = sorted(
            set(body) & {"is_active", *services.PRIVILEGED_FIELDS, *services.ROLE_FIELDS}
        )
        if named:
            raise ApiError(
                codes.PERMISSION_DENIED,
                http_status.HTTP_403_FORBIDDEN,
                detail=f"you cannot set {', '.join(named)} on yourself",
            )
        _reject_foreign_fields(body)
        _names_no_field(body, services.SELF_FIELDS)
        data = _parse(ProfileUpdateSerializer, body, _update_code, partial=True)
        user = services.update_user(request.user, request.user, data)
        return ApiResponse(codes.USER_UPDATED, ProfileSerializer(user).data)

    def get_throttles(self):
        if self.action == "me_password":
            return [PasswordChangeFailureThrottle()]
        return super().get_throttles()

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer, 429: OpenApiResponse(description="Throttled")},
    )
    @action(detail=False, methods=["post"], url_path="me/password")
    def me_password(self, request):
        """Replace one's own password; wrong old passwords are throttled per user (906)."""
        data = _parse(
            PasswordChangeSerializer, _body(request), lambda errors: codes.USER_UPDATE_ERROR
        )
        throttle = PasswordChangeFailureThrottle()
        tokens = services.change_own_password(
            request.user,
            data["old_password"],
            data["new_password"],
            on_wrong_old_password=lambda: throttle.record_failure(request, self),
        )
        throttle.reset(request, self)
        return ApiResponse(codes.PASSWORD_CHANGED, tokens)

    @extend_schema(request=PasswordResetSerializer, responses={200: None})
    @action(detail=True, methods=["post"], url_path="password")
    def set_password(self, request, pk=None):
        user = self.get_object()
        services.check_privileged_fields(request.user, {}, target=user)
        data = _parse(
            PasswordResetSerializer, _body(request), lambda errors: codes.USER_UPDATE_ERROR
        )
        services.reset_password(request.user, user, data["password"])
        return ApiResponse(codes.PASSWORD_CHANGED)


def _reject_foreign_fields(raw):
    """A password or roles in a profile update are refused rather than silently dropped."""
    if "password" in raw:
        raise ApiError(
            codes.USER_UPDATE_ERROR,
            data={"errors": {"password": ["Passwords are changed through their own routes."]}},
        )
    named = sorted(set(raw) & set(services.ROLE_FIELDS))
    if named:
        raise ApiError(
            codes.USER_UPDATE_ERROR,
            data={"errors": {f: ["Roles are assigned through /api/user-roles/."] for f in named}},
        )
