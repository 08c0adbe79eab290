"""Domain errors: what went wrong, in words that name the field and the limit.

They know nothing of HTTP; app/api/errors.py maps each kind to its status code.
"""


class ServiceError(Exception):
    """Base class of the errors the service reports to its callers."""

    code = "internal_error"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class BadInput(ServiceError):
    code = "invalid_request"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class PayloadTooLarge(ServiceError):
    code = "payload_too_large"


class Overloaded(ServiceError):
    """Too much in flight; try again after `retry_after_s`."""

    code = "overloaded"


class NotReady(ServiceError):
    code = "not_ready"


class ModelUnavailable(ServiceError):
    """A generation or translation model that could not be loaded."""

    code = "model_unavailable"


class DatabaseUnavailable(ServiceError):
    """The database cannot be reached, or did not answer within its time limit."""

    code = "database_unavailable"
