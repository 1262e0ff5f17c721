"""OpenAPI schema at /api/v1/schema/, docs at /api/docs/ from our own static files, routing."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

CONTRACT = {
    "/api/v1/auth/token/": {"post", "delete"},
    "/api/v1/backgrounds/": {"get", "post"},
    "/api/v1/backgrounds/{id}/": {"get", "patch", "delete"},
    "/api/v1/backgrounds/{id}/image/": {"get"},
    "/api/v1/backgrounds/{id}/thumbnail/": {"get"},
    "/api/v1/composites/": {"get", "post"},
    "/api/v1/composites/{id}/": {"get", "delete"},
    "/api/v1/composites/{id}/recomposite/": {"post"},
    "/api/v1/composites/{id}/result/": {"get"},
    "/api/v1/composites/{id}/mask/": {"get"},
    "/api/v1/composites/{id}/source/": {"get"},
    "/api/v1/composites/{id}/thumbnail/": {"get"},
}


@pytest.fixture
def schema(anon) -> dict:
    response = anon.get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    return yaml.safe_load(response.content)


def test_schema_is_valid_openapi_3_with_every_endpoint(schema):
    validate_schema(schema)  # raises on an invalid document

    assert schema["openapi"].startswith("3.")
    paths = {path: set(item) - {"parameters"} for path, item in schema["paths"].items()}
    for path, methods in CONTRACT.items():  # the contract (more may be added)
        assert methods <= paths.get(path, set()), path


def test_schema_as_json(anon):
    response = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert json.loads(response.content)["info"]["title"]


def test_schema_describes_token_auth(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    assert "Token <key>" in scheme["description"]
    create_token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "security" not in create_token
    assert {"tokenAuth": []} in schema["paths"]["/api/v1/composites/"]["get"]["security"]


def test_schema_describes_the_multipart_composite_request(schema):
    body = schema["paths"]["/api/v1/composites/"]["post"]["requestBody"]
    assert set(body["content"]) == {"multipart/form-data"}
    ref = body["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    form = schema["components"]["schemas"][ref]
    assert set(form.get("required", [])) <= {"photo"}
    assert form["properties"]["photo"] == {**form["properties"]["photo"], "format": "binary"}
    assert form["properties"]["background_image"]["format"] == "binary"
    assert set(form["properties"]) >= {"background", "color", "mode", "format", "save_background"}
    responses = schema["paths"]["/api/v1/composites/"]["post"]["responses"]
    assert set(responses["201"]["content"]) >= {
        "application/json",
        "image/jpeg",
        "image/png",
        "image/webp",
    }


def test_schema_documents_error_responses(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) >= {"code", "detail"}
    for path, methods in CONTRACT.items():
        for method in methods:
            responses = schema["paths"][path][method]["responses"]
            assert "Retry-After" in responses["429"]["headers"], (path, method)
            if path != "/api/v1/auth/token/" or method == "delete":
                assert "WWW-Authenticate" in responses["401"]["headers"], (path, method)
            if "{id}" in path:
                assert "404" in responses, (path, method)
    create = schema["paths"]["/api/v1/composites/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "415", "422", "429", "503"} <= set(create)


def _local_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/redoc/"])
def test_docs_pages_use_only_our_own_static_files(anon, path):
    response = anon.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "http://" not in html and "https://" not in html  # no CDN, no web fonts
    assets = _local_assets(html)
    assert assets
    for url in assets:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not among our static files"
    assert "/api/v1/schema/" in html
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy


def test_swagger_ui_calls_no_validator(anon):
    html = anon.get("/api/docs/").content.decode()

    assert '"validatorUrl": null' in html


# -- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/",
        "/api/v1/nothing/",
        "/api/v2/composites/",
        # An id holding an encoded newline (found by schemathesis): still JSON, not HTML.
        "/api/v1/backgrounds/%C3%B2%0AvJ/",
        "/api/v1/composites/a%0Ab/",
    ],
)
def test_unknown_api_paths_are_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_missing_trailing_slash_is_explained(api):
    response = api.post("/api/v1/composites", {})

    assert response.status_code == 404
    assert "/api/v1/composites/" in response.json()["detail"]


def test_unsupported_methods_are_json_405(api, user, stored_composite):
    composite = stored_composite(user)

    for response in (
        api.put(f"/api/v1/composites/{composite.pk}/", {}, format="json"),
        api.patch(f"/api/v1/composites/{composite.pk}/", {}, format="json"),
        api.delete("/api/v1/composites/"),
        api.get(f"/api/v1/composites/{composite.pk}/recomposite/"),
    ):
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_400(api, user, stored_composite):
    composite = stored_composite(user)

    response = api.generic(
        "POST",
        f"/api/v1/composites/{composite.pk}/recomposite/",
        b'{"mode": "blur",',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_garbled_multipart_is_400(api):
    response = api.generic(
        "POST",
        "/api/v1/composites/",
        b'--xyz\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n\r\nabc',
        content_type="multipart/form-data; boundary=xyz",
    )

    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}


def test_multipart_without_boundary_is_400(api):
    response = api.generic(
        "POST", "/api/v1/composites/", b"abc", content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
