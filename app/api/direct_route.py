"""A route FastAPI calls without solving dependencies, for the most frequent request.

FastAPI resolves each request's parameters through its dependency graph, a fixed cost of every
request. A `DirectRoute` endpoint takes only its path parameters (validated as declared) and the
Request, from which it reads its own body; nothing else is looked up. Declaring anything more on
such a route (a dependency, a query, header, cookie or body parameter, a sync endpoint) fails at
start, so nothing declared on it is ever skipped.
"""

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = self.dependant
        extra = [
            *dependant.dependencies,
            *dependant.query_params,
            *dependant.header_params,
            *dependant.cookie_params,
            *dependant.body_params,
        ]
        request_name = dependant.request_param_name
        if extra or request_name is None or not inspect.iscoroutinefunction(self.endpoint):
            raise TypeError(
                f"{self.path}: the endpoint of a DirectRoute is async and takes only its path "
                "parameters and the Request"
            )
        endpoint, path_fields = self.endpoint, dependant.path_params

        async def handler(request: Request) -> Response:
            values, errors = request_params_to_args(path_fields, request.path_params)
            if errors:
                raise RequestValidationError(errors)
            response: Response = await endpoint(**values, **{request_name: request})
            return response

        return handler
