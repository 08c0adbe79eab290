"""`semsearch serve`: the HTTP service, every flag mirrored by a SEMSEARCH_ environment variable."""

import argparse
import logging
import logging.config
import signal
import sys
from typing import get_args

from app.cli.output import EXIT_OK, EXIT_USAGE
from app.config import EncoderBackend, Settings


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "serve",
        help="start the HTTP service",
        description="Start the service. Every flag has a SEMSEARCH_ environment variable.",
    )
    parser.add_argument("--host", help="address to bind (SEMSEARCH_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (SEMSEARCH_PORT, default 8000)")
    parser.add_argument("--data-dir", help="data folder (SEMSEARCH_DATA_DIR, default ./index_data)")
    parser.add_argument("--encoder", help="sentence-transformers id or path (SEMSEARCH_ENCODER)")
    parser.add_argument(
        "--database-url",
        help="postgresql://... of a PostgreSQL server with pgvector holding every collection, "
        "shared by any number of replicas (SEMSEARCH_DATABASE_URL; default: none, collections "
        "live in the data folder)",
    )
    parser.add_argument(
        "--encoder-backend",
        choices=get_args(EncoderBackend),
        help="what runs the encoder (SEMSEARCH_ENCODER_BACKEND, default auto); the onnx "
        "backends need pip install 'semsearch[onnx]'",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    serve(Settings(**overrides))
    return EXIT_OK


def serve(settings: Settings) -> None:
    """Run the service until SIGTERM or Ctrl-C; a bad key configuration exits 2 at once."""
    import uvicorn

    from app.api.middleware.keys import ApiKeyConfigError, load_api_keys, warn_about_access
    from app.logging_setup import logging_config

    try:
        keys = load_api_keys(settings)  # a bad key configuration stops here, before any model
    except ApiKeyConfigError as exc:
        print(f"semsearch serve: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    log_config = logging_config(settings.log_format, settings.log_level)
    logging.config.dictConfig(log_config)
    warn_about_access(settings.host, keys)

    from app.main import create_app

    app = create_app(settings)
    # uvicorn finishes in-flight requests on SIGTERM, runs the shutdown (which snapshots every
    # index), then re-raises the signal; this handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config,
        access_log=False,  # the service logs one line per request itself
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
