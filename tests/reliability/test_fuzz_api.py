"""Fuzz every operation of the API from its own OpenAPI schema with schemathesis.

The schema is generated in-process (`/api/schema/` through the WSGI application) and every
operation in it is called, signed in as a superuser, with inputs hypothesis derives from the
schema: valid ones (positive) and ones that break it (negative), a fixed number per operation
and the same on every run (derandomized). Every answer must be:

- no server error (5xx);
- a status the schema lists for the operation, with a JSON body matching the schema given for
  that status (the schema wraps every body in the envelope, `kstack_naguan.api.schema`);
- the envelope `{"code", "msg", "data"}` with a code from `kstack_naguan.api.codes.REGISTRY`.

Each case runs in a savepoint that is rolled back, so one case cannot delete the user or the
platform the next one needs; vCenter is the test's own simulator, synced first so that small
ids name real VMs, datastores and port groups. No operation is left out.
"""

import time
from collections import Counter

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import issue_tokens
from kstack_naguan.api import codes

from .conftest import record_figure

# Cases per operation and mode: 10 valid and 5 invalid inputs, about 1,500 cases in all.
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _RollBack(Exception):
    """Raised to undo a case's writes."""


def _check_envelope(response):
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"code", "msg", "data"}, body
    assert body["code"] in codes.REGISTRY, f"unregistered code {body['code']}"
    assert isinstance(body["msg"], str) and body["msg"], body


def _fuzz_operation(operation, headers, tally):
    """Run the operation's cases; return the first failure as text, or None."""
    label = f"{operation.method.upper()} {operation.path}"
    failure = []

    def run_case(case):
        if failure:
            return
        try:
            with transaction.atomic():
                response = case.call(headers=headers)
                tally["cases"] += 1
                tally[f"status {response.status_code}"] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                    _check_envelope(response)
                except (Exception, BaseExceptionGroup) as exc:
                    failure.append(
                        f"{label}: {case.method} {case.formatted_path} query={case.query} "
                        f"body={case.body!r:.300} -> {response.status_code} "
                        f"{response.text[:300]}\n{str(exc)[:2000]}"
                    )
                raise _RollBack
        except _RollBack:
            pass

    for mode, examples in EXAMPLES.items():
        bounded = hypothesis_settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        bounded(given(case=operation.as_strategy(generation_mode=mode))(run_case))()
    return failure[0] if failure else None


@pytest.mark.vcsim
def test_fuzz_every_operation_answers_envelope_per_schema(admin_user, fresh_synced, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    schema.validate()  # valid OpenAPI in the first place (raises otherwise)
    assert not list(schema.iter_schema_warnings())
    headers = {"Authorization": f"Bearer {issue_tokens(admin_user)['access']}"}
    tally = Counter()
    failures = []
    operations = 0
    started = time.monotonic()

    # Every operation the schema lists, each with its bounded, seeded set of cases.
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        failure = _fuzz_operation(operation, headers, tally)
        if failure:
            failures.append(failure)

    # Report the figures, then the failures.
    statuses = {k.split()[1]: v for k, v in sorted(tally.items()) if k.startswith("status")}
    record_figure(
        "fuzz",
        operations=operations,
        cases=tally["cases"],
        failures=len(failures),
        statuses=statuses,
        seconds=round(time.monotonic() - started, 1),
    )
    assert operations >= 90, "the schema lost operations"
    assert tally["cases"] >= operations * 5
    assert not failures, "\n\n".join(failures)
