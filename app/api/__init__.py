"""HTTP routers: thin, one module per resource."""
