"""The HTTP layer: routes, their schemas, middleware, and the mapping of errors to replies."""
