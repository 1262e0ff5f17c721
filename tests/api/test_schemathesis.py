"""Property-based run of the whole OpenAPI schema with schemathesis against a live server.

The server is pytest-django's ``live_server`` (a real HTTP server on 127.0.0.1, sharing
the test database); the schema is loaded from it over HTTP. For every operation,
schemathesis generates schema-valid and schema-violating requests with a real token;
path ids are random UUIDs and, separately, ids of a composite and backgrounds that exist,
so both 404s and real objects are exercised. Every response must pass schemathesis'
checks: no 5xx, a documented status code, content type and headers, a body that conforms
to the schema, auth not ignored, invalid data rejected. Bounded: ``VBG_SCHEMATHESIS_EXAMPLES``
examples per operation and mode (default 15).

(schemathesis' own pytest plugin does not work with this pytest version, so the
operations are driven with ``APIOperation.as_strategy`` and Hypothesis directly.)
"""

from __future__ import annotations

import os
import traceback

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import ApiToken
from accounts.services import token_create
from tests.compositing.conftest import make_background

MAX_EXAMPLES = int(os.environ.get("VBG_SCHEMATHESIS_EXAMPLES", "15"))

# Operations whose schema-valid inputs can still be refused with a 4xx the schema cannot
# express: random bytes in a binary field are not a decodable image, the background
# options are mutually exclusive, and random credentials are wrong credentials.
SCHEMA_CANNOT_SAY_WHAT_IS_ACCEPTED = {
    ("POST", "/api/v1/auth/token/"),
    ("POST", "/api/v1/backgrounds/"),
    ("POST", "/api/v1/composites/"),
    ("POST", "/api/v1/composites/{id}/recomposite/"),
    # A URL matching the documented pattern may still have no usable host ("http://:0").
    ("PUT", "/api/v1/auth/token/webhook/"),
}


def _run_operation(operation, *, mode, token_for, statuses, examples=MAX_EXAMPLES, **fixed):
    """Generate ``examples`` requests for ``operation``; ``fixed``: path_parameters, body,
    media_type passed to ``as_strategy`` (the rest is generated)."""
    strategy = operation.as_strategy(generation_mode=mode, **fixed)
    excluded = []
    if (operation.method.upper(), operation.path) in SCHEMA_CANNOT_SAY_WHAT_IS_ACCEPTED:
        excluded.append(positive_data_acceptance)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def run(case):
        response = case.call_and_validate(
            headers={"Authorization": f"Token {token_for(operation)}"},
            excluded_checks=excluded,
            timeout=60,
        )
        statuses.append((operation.method.upper(), operation.path, response.status_code))

    run()


@pytest.mark.slow
def test_api_conforms_to_its_schema(live_server, user, stored_composite, settings):
    # Generous limits, so the run tests answers rather than the rate limiter (429s are
    # documented, and tested on their own).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(
            ("user", "composite", "anon", "auth"), "100000/hour"
        ),
    }
    settings.VBG_LOGIN_MAX_FAILURES = 100_000
    builtin = str(make_background(None, name="Built in", width=64, height=48).pk)

    def existing_ids(path: str) -> list[str]:
        """Ids of objects that exist, made afresh for each operation (one may delete it)."""
        if path.startswith("/api/v1/composites/"):
            return [str(stored_composite(user).pk)]
        return [str(make_background(user, name="Own", width=64, height=48).pk), builtin]

    main_token, main_key = token_create(user=user, name="schemathesis")

    def token_for(operation) -> str:
        # Revoking the token in use is one of the operations: it gets a fresh token.
        if (operation.method.upper(), operation.path) != ("DELETE", "/api/v1/auth/token/"):
            return main_key
        ApiToken.objects.filter(owner=user).exclude(pk=main_token.pk).delete()
        return token_create(user=user, name="to revoke")[1]

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    failures: list[str] = []
    statuses: list[tuple[str, str, int]] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        runs = [
            {"mode": GenerationMode.POSITIVE},
            {"mode": GenerationMode.NEGATIVE},
        ]
        if "{id}" in operation.path:
            ids = existing_ids(operation.path)
            runs += [
                {"mode": GenerationMode.POSITIVE, "path_parameters": {"id": pk}, "examples": 4}
                for pk in ids
            ]
        if operation.path.endswith("/recomposite/"):
            # Random bodies rarely pick exactly one background; send two that do.
            runs += [
                {
                    "mode": GenerationMode.POSITIVE,
                    "path_parameters": {"id": existing_ids(operation.path)[0]},
                    "body": body,
                    "media_type": "application/json",
                    "examples": 1,
                }
                for body in ({"mode": "blur"}, {"color": "#12AB34", "format": "webp"})
            ]
        for run in runs:
            try:
                _run_operation(operation, token_for=token_for, statuses=statuses, **run)
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body (GET
                # /account/) has no schema-violating requests.
                if run["mode"] != GenerationMode.NEGATIVE:
                    failures.append(f"{operation.method.upper()} {operation.path} {run}: none")
            except (Exception, BaseExceptionGroup) as exc:  # collect every failure, report all
                failures.append(
                    f"{operation.method.upper()} {operation.path} {run}:\n"
                    + "".join(traceback.format_exception_only(exc))
                )

    assert operations >= 18
    assert not failures, "\n\n".join(failures)
    # The run reached real objects, not only 4xx answers.
    answered = {(method, path, status) for method, path, status in statuses}
    for expected in [
        ("GET", "/api/v1/composites/", 200),
        ("GET", "/api/v1/composites/{id}/", 200),
        ("GET", "/api/v1/composites/{id}/result/", 200),
        ("POST", "/api/v1/composites/{id}/recomposite/", 201),
        ("GET", "/api/v1/backgrounds/{id}/", 200),
        ("PATCH", "/api/v1/backgrounds/{id}/", 200),
        ("DELETE", "/api/v1/auth/token/", 204),
    ]:
        assert expected in answered, expected
    assert all(status < 500 for _method, _path, status in statuses)
    print(f"{len(statuses)} requests, {len(answered)} distinct (operation, status) answers")
