"""schemathesis over /api/v1/openapi.json, in-process (WSGI): no 5xx, no answer the document
does not allow, with and without an API key.

Each operation gets a bounded number of generated requests (``VARSLA_FUZZ_EXAMPLES``,
default :data:`EXAMPLES`) that fit the document and as many that do not, so the run stays
within a minute or two on either database. Every answer is also checked by the suite's own
OpenAPI contract hook (tests.openapi_contract). (schemathesis' pytest fixture loader does not
work with pytest 9, so the operations are walked here with ``as_strategy``.)
"""

from __future__ import annotations

import contextvars
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import api_headers, create_operator, create_zone

EXAMPLES = int(os.environ.get("VARSLA_FUZZ_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.fuzz


@pytest.fixture
def key(session) -> dict[str, str]:
    create_zone(session)
    headers = api_headers(session, create_operator(session, "admin", "fuzz-admin@test.varsla.se"))
    session.commit()
    return headers


def _isolated(function, *args, **kwargs):
    """Run a request in its own context, as tests.conftest.IsolatedClient does."""
    return contextvars.Context().run(function, *args, **kwargs)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_answer_breaks_the_document(app, key, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19, [op.label for op in operations]
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            _isolated(case.call_and_validate, checks=CHECKS)
            _isolated(case.call_and_validate, headers=key, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing can break this operation's document (any slug is one)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # collected, so one run reports every operation at fault
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)
