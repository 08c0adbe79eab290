"""Command line: `semsearch serve`."""

import argparse
import logging
import signal

from app.config import Settings


def serve(settings: Settings) -> None:
    import uvicorn

    from app.main import create_app

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # uvicorn finishes in-flight requests on SIGTERM, runs the shutdown (which snapshots every
    # index), then re-raises the signal; this handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="semsearch", description="Self-hosted semantic search.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser(
        "serve",
        help="start the HTTP service",
        description="Start the service. Every flag has a SEMSEARCH_ environment variable.",
    )
    serve_p.add_argument("--host", help="address to bind (SEMSEARCH_HOST, default 127.0.0.1)")
    serve_p.add_argument("--port", type=int, help="port (SEMSEARCH_PORT, default 8000)")
    serve_p.add_argument(
        "--data-dir", help="data folder (SEMSEARCH_DATA_DIR, default ./index_data)"
    )
    serve_p.add_argument("--encoder", help="sentence-transformers id or path (SEMSEARCH_ENCODER)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    settings = Settings(**overrides)
    if args.command == "serve":
        serve(settings)


if __name__ == "__main__":
    main()
