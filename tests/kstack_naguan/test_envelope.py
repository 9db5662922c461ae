import logging

import pytest
from django.urls import path
from rest_framework.views import APIView

from kstack_naguan import urls as root_urls
from kstack_naguan.api import codes


class Boom(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("secret internals that must not leak")


urlpatterns = [path("api/boom", Boom.as_view()), *root_urls.urlpatterns]
handler404 = root_urls.handler404
handler500 = root_urls.handler500


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "msg", "data"}
    assert body["code"] == code
    assert body["msg"]
    return body


@pytest.mark.django_db
def test_unauthenticated_request_gets_401_with_generic_code(anon_api):
    response = anon_api.get("/api/vcenter/vms")
    assert_envelope(response, 401, codes.NOT_AUTHENTICATED.number)
    assert "WWW-Authenticate" in response


@pytest.mark.django_db
def test_invalid_token_gets_401(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_envelope(anon_api.get("/api/vcenter/vms"), 401, codes.NOT_AUTHENTICATED.number)


@pytest.mark.django_db
def test_unknown_route_gets_404_envelope(api):
    assert_envelope(api.get("/api/no/such/route"), 404, codes.NOT_FOUND.number)


@pytest.mark.django_db
def test_wrong_method_gets_405_envelope(api):
    assert_envelope(api.delete("/api/vcenter/tree"), 405, codes.METHOD_NOT_ALLOWED.number)


@pytest.mark.django_db
def test_malformed_json_gets_400_envelope(anon_api):
    response = anon_api.post("/api/auth/login", data="{not json", content_type="application/json")
    assert_envelope(response, 400, codes.MALFORMED_REQUEST.number)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", '{"username": "\\ud800x", "password": "x"}'),
        ("/api/auth/login", '{"username": "admin", "password": "\\udfff"}'),
        ("/api/vcenter/sync", '{"platform": 1, "note": ["\\ud83d"]}'),
    ],
    ids=["login-name", "login-password", "authenticated"],
)
def test_lone_surrogate_in_json_gets_400_not_500(api, path, body):
    """Python's JSON parser accepts `"\\ud800"`; no UTF-8 text, database or hasher can take it."""
    response = api.post(path, data=body, content_type="application/json")
    body = assert_envelope(response, 400, codes.MALFORMED_REQUEST.number)
    assert "surrogate" in body["data"]["detail"]


@pytest.mark.django_db
def test_surrogate_pair_in_json_is_an_ordinary_character(anon_api):
    body = '{"username": "\\ud83d\\ude00", "password": "x"}'  # an escaped emoji
    response = anon_api.post("/api/auth/login", data=body, content_type="application/json")
    assert_envelope(response, 401, codes.LOGIN_NO_USER.number)


@pytest.mark.django_db
def test_unsupported_media_type_gets_415_envelope(anon_api):
    response = anon_api.post("/api/auth/login", data="<x/>", content_type="application/xml")
    assert_envelope(response, 415, codes.UNSUPPORTED_MEDIA_TYPE.number)


@pytest.mark.django_db
def test_unavailable_response_format_gets_406_envelope(api):
    response = api.get("/api/vcenter/tree", HTTP_ACCEPT="application/xml")
    assert_envelope(response, 406, codes.NOT_ACCEPTABLE.number)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_server_error_gets_500_without_traceback(client, caplog):
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/boom")
    body = assert_envelope(response, 500, codes.INTERNAL_ERROR.number)
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["data"]["request_id"] == response["X-Request-ID"]
    assert "secret internals" in caplog.text  # logged for operators, with the request id
    assert response["X-Request-ID"] in caplog.text


@pytest.mark.django_db
def test_accept_language_en_gives_english(anon_api):
    response = anon_api.get("/api/vcenter/vms", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["msg"] == "Authentication credentials were missing or invalid"
    response = anon_api.get("/api/vcenter/vms")
    assert response.json()["msg"] == "未提供或无效的身份凭证"


@pytest.mark.django_db
def test_request_id_is_echoed_and_generated(anon_api):
    response = anon_api.get("/api/vcenter/vms", HTTP_X_REQUEST_ID="abc12345-trace")
    assert response["X-Request-ID"] == "abc12345-trace"
    response = anon_api.get("/api/vcenter/vms", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_schema_and_docs_are_public(anon_api):
    schema = anon_api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    docs = anon_api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_oversized_body_to_an_authenticated_view_gets_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"platform": 1, "pad": "' + "x" * 4096 + '"}'
    response = api.post("/api/vcenter/sync", body, content_type="application/json")
    assert_envelope(response, 413, codes.REQUEST_TOO_LARGE.number)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[" * 50000, '{"a":' * 5000])
def test_deeply_nested_json_gets_400_not_500(anon_api, body):
    response = anon_api.post("/api/auth/login", data=body, content_type="application/json")
    assert_envelope(response, 400, codes.MALFORMED_REQUEST.number)


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer ", "Bearer a.b.c"])
def test_bad_token_detail_is_a_plain_message(anon_api, header):
    response = anon_api.get("/api/vcenter/vms", HTTP_AUTHORIZATION=header)
    body = assert_envelope(response, 401, codes.NOT_AUTHENTICATED.number)
    detail = body["data"]["detail"]
    assert "ErrorDetail" not in detail and "{" not in detail
    assert detail


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_route_is_an_envelope_even_in_debug(api, settings, debug):
    settings.DEBUG = debug
    assert_envelope(api.get("/api/nope"), 404, codes.NOT_FOUND.number)
    assert_envelope(
        api.post("/api/vcenter/nothing/", {}, format="json"), 404, codes.NOT_FOUND.number
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/vcenter/tree", "/api/vcenter/tree/"])
def test_routes_answer_with_or_without_trailing_slash(api, path):
    assert_envelope(api.get(path), 200, codes.TREE_OK.number)


@pytest.mark.django_db
def test_unknown_api_route_post_without_csrf_is_still_an_envelope():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert_envelope(client.post("/api/nope", {}), 404, codes.NOT_FOUND.number)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/static/admin/css/base.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/audit/admin/tasklog.js",
    ],
)
def test_static_files_are_served_without_debug_by_any_wsgi_server(client, settings, path):
    """gunicorn serves no static files; without them the admin is unstyled and Swagger blank."""
    settings.DEBUG = False
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


@pytest.mark.django_db
def test_a_host_not_served_here_is_told_so(client, settings):
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    response = client.get("/api/vcenter/vms", HTTP_HOST="other.example.com")
    body = assert_envelope(response, 400, codes.MALFORMED_REQUEST.number)
    assert "DJANGO_ALLOWED_HOSTS" in body["data"]["detail"]
