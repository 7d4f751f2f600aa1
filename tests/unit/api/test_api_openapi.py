"""The OpenAPI document tells the truth (issue 13): every error a route can give is declared as
problem+json, 405 answers name every method of the path, and a bounded schemathesis run against the
in-process app (an API key, a finished job to act on) finds no 5xx and no response that breaks the schema.
"""

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection
from service_testkit import ApiHarness, clear_service_caches
from test_api_decode import finish_with_outputs, two_notes

PROBLEM = "application/problem+json"
ERRORS_BY_ROUTE = {  # what each route can answer besides 401 and 503 (the key check, the job store)
    ("post", "/v1/jobs"): {400, 409, 413, 415, 422, 429},
    ("get", "/v1/jobs"): {422},
    ("get", "/v1/jobs/{job_id}"): {404},
    ("patch", "/v1/jobs/{job_id}"): {400, 404, 409, 410, 415, 422},
    ("delete", "/v1/jobs/{job_id}"): {404, 409},
    ("post", "/v1/jobs/{job_id}/decode"): {400, 404, 409, 410, 415, 422},
    ("get", "/v1/jobs/{job_id}/midi"): {404, 409, 410, 422},
    ("get", "/v1/jobs/{job_id}/notes"): {404, 409, 410, 422},
    ("get", "/v1/jobs/{job_id}/notes.csv"): {404, 409, 410, 422},
    ("get", "/v1/jobs/{job_id}/audio"): {404, 410},
    ("get", "/v1/jobs/{job_id}/score.musicxml"): {404, 409, 410},
    ("get", "/v1/jobs/{job_id}/score.mid"): {404, 409, 410},
    ("post", "/v1/jobs/{job_id}/cancel"): {404, 409},
    ("post", "/v1/jobs/{job_id}/retry"): {404, 409},
    ("get", "/v1/queue"): {403},
    ("get", "/v1/queue/history"): {403, 422},
}


def test_every_route_declares_its_errors_as_problem_json(api: ApiHarness) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for (method, path), expected in ERRORS_BY_ROUTE.items():
        responses = paths[path][method]["responses"]
        declared = {int(status) for status in responses if int(status) >= 400}
        assert expected | {401, 503} <= declared, (method, path, declared)
        for status in declared:
            content = responses[str(status)]["content"]
            assert list(content) == [PROBLEM], (method, path, status)
            assert set(content[PROBLEM]["schema"]["required"]) == {"title", "status", "detail", "code"}
        for status in (429, 503):
            if status in declared:
                assert "Retry-After" in responses[str(status)]["headers"], (method, path, status)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/jobs/abc", "GET, PATCH, DELETE"),  # three routes share the path
        ("PUT", "/v1/jobs", "GET, POST"),
        ("GET", "/v1/jobs/abc/cancel", "POST"),
        ("POST", "/healthz", "GET"),
        ("PUT", "/v1/jobs/abc/decode", "POST"),  # a body of the wrong type too: the method comes first
    ],
)
def test_405_names_every_method_of_the_path(api: ApiHarness, method: str, path: str, allow: str) -> None:
    response = api.client.request(method, path, content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["Allow"] == allow


def _openapi() -> dict[str, Any]:
    """The document as the app serves it (the routes do not depend on the environment)."""
    from piano_api.main import create_app

    document = create_app().openapi()
    clear_service_caches()  # creating the app read settings: leave none cached for other tests
    return document


schema = schemathesis.openapi.from_dict(_openapi())


@pytest.fixture
def job_ids(api: ApiHarness, submit: Callable[..., dict]) -> list[str]:
    """A succeeded job with stored model outputs, and a queued one."""
    finished = submit()["id"]
    finish_with_outputs(api, finished, two_notes())
    return [finished, submit()["id"]]


@schema.parametrize()
@settings(
    max_examples=12,
    derandomize=True,  # the same examples on every run
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzzed_requests_get_no_5xx_and_match_the_schema(
    case: Any, api: ApiHarness, job_ids: list[str], wav_bytes: bytes
) -> None:
    job_id = (case.path_parameters or {}).get("job_id")
    if job_id is not None and len(job_id) % 3:  # two in three act on a real job, the rest on unknown ids
        case.path_parameters["job_id"] = job_ids[len(job_id) % 2]
    excluded = []
    upload = case.body.get("file") if isinstance(case.body, dict) else None
    if isinstance(upload, (bytes, str)) and upload:  # any content: the schema cannot say "decodable audio"
        case.body["file"] = wav_bytes
        if "score" in case.body and not isinstance(case.body["score"], bool):
            # Form fields are text: 0, 1, "off" reach the server as booleans it rightly accepts.
            excluded.append(negative_data_rejection)
    if "Authorization" not in (case.headers or {}):
        # Generated without the key (a negative case for the header): we send one anyway, so the request
        # is no longer the invalid one the rejection check would expect to be refused.
        excluded.append(negative_data_rejection)
    key = api.admin_headers if case.path.startswith("/v1/queue") else api.client.headers
    # This test's app (its own database and storage), for the case and for the checks' own probes.
    case.operation.app = case.operation.schema.app = api.client.app
    case.call_and_validate(headers={"Authorization": key["Authorization"]}, excluded_checks=excluded)
