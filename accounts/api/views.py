from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import status as http_status
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.permissions import IsAuthenticated
from kstack_naguan.api.responses import ApiResponse

from .serializers import (
    LoginResultSerializer,
    LoginSerializer,
    ProfileSerializer,
    RefreshSerializer,
    TokenPairSerializer,
)


class LoginView(APIView):
    """Exchange a username and password for a JWT pair (codes 1000-1003)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: LoginResultSerializer})
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        user, tokens = services.login(data.get("username"), data.get("password"))
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
    """Blacklist the caller's refresh token so it can no longer be refreshed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=RefreshSerializer, responses={200: None})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        if not serializer.is_valid():
            raise ApiError(codes.INVALID_INPUT, data={"errors": serializer.errors})
        try:
            token = RefreshToken(serializer.validated_data["refresh"])
            if str(token["user_id"]) != str(request.user.pk):
                raise TokenError("token belongs to another user")
            token.blacklist()
        except TokenError as exc:
            raise ApiError(codes.INVALID_INPUT, detail=exc) from None
        return ApiResponse(codes.LOGGED_OUT)
