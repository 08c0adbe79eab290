"""Every domain error has one HTTP status, and its reply names what went wrong."""

import json

from app import errors
from app.api.errors import error_response, status_of


def test_each_domain_error_maps_to_its_status() -> None:
    expected = {
        errors.BadInput: 400,
        errors.NotFound: 404,
        errors.Conflict: 409,
        errors.PayloadTooLarge: 413,
        errors.Overloaded: 429,
        errors.NotReady: 503,
        errors.ModelUnavailable: 503,
        errors.ServiceError: 500,
    }
    assert {kind: status_of(kind("x")) for kind in expected} == expected


def test_the_reply_carries_the_code_the_message_and_retry_after() -> None:
    reply = error_response(errors.Overloaded("queue: 8 waiting is the limit", retry_after_s=2))
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "2"
    assert json.loads(reply.body) == {
        "error": {"code": "overloaded", "message": "queue: 8 waiting is the limit"}
    }
