"""Command line: `semsearch serve`, `semsearch eval`."""

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


def evaluate(
    dataset_dir: str, collection_name: str, data_dir: str | None, modes: list[str]
) -> None:
    """Index a BEIR-layout dataset into a collection and print each mode's metrics."""
    import tempfile
    from pathlib import Path

    from app.evaluation import evaluate_modes, index_dataset, load_beir
    from app.models.encoder import Encoder
    from app.store.catalog import Catalog

    dataset = load_beir(Path(dataset_dir))
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(data_dir) if data_dir else Path(tmp), Encoder(settings.encoder))
        catalog.open_all()
        collection = catalog.get_or_create(collection_name)
        index_dataset(collection, dataset)
        table = evaluate_modes(collection, dataset, modes)
        catalog.close()
    print(f"{dataset_dir}: {len(dataset.corpus)} documents, {len(dataset.queries)} queries")
    metrics = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    print(f"{'mode':<10}" + "".join(f"{m:>12}" for m in metrics))
    for mode, scores in table.items():
        print(f"{mode:<10}" + "".join(f"{scores[m]:>12.3f}" for m in metrics))


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
    eval_p = sub.add_parser(
        "eval",
        help="measure search quality on a BEIR-layout dataset",
        description="Index DATASET (corpus.jsonl, queries.jsonl, qrels/test.tsv) into a "
        "collection and print nDCG@10, recall@10, recall@100 and MRR@10 for each mode.",
        epilog="example: semsearch eval tests/data/lee --collection lee",
    )
    eval_p.add_argument("dataset", help="folder in the BEIR layout")
    eval_p.add_argument("--collection", default="eval", help="collection name (default eval)")
    eval_p.add_argument(
        "--data-dir", help="keep the collection in this data folder (default: a temporary one)"
    )
    eval_p.add_argument(
        "--modes", default="dense,lexical,hybrid", help="comma-separated search modes"
    )
    args = parser.parse_args(argv)
    if args.command == "eval":
        evaluate(args.dataset, args.collection, args.data_dir, args.modes.split(","))
        return
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    settings = Settings(**overrides)
    if args.command == "serve":
        serve(settings)


if __name__ == "__main__":
    main()
