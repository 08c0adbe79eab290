"""`semsearch eval`: index a BEIR-layout dataset and print each search mode's metrics."""

import argparse
import tempfile
from pathlib import Path

from app.cli.output import EXIT_OK
from app.config import Settings

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "eval",
        help="measure search quality on a BEIR-layout dataset",
        description="Index DATASET (corpus.jsonl, queries.jsonl, qrels/test.tsv) into a "
        "collection and print nDCG@10, recall@10, recall@100 and MRR@10 for each mode.",
        epilog="example: semsearch eval tests/data/lee --collection lee",
    )
    parser.add_argument("dataset", help="folder in the BEIR layout")
    parser.add_argument("--collection", default="eval", help="collection name (default eval)")
    parser.add_argument(
        "--data-dir", help="keep the collection in this data folder (default: a temporary one)"
    )
    parser.add_argument(
        "--modes", default="dense,lexical,hybrid", help="comma-separated search modes"
    )
    parser.add_argument(
        "--fusion", choices=("convex", "rrf"), help="hybrid fusion (default: the service's, convex)"
    )
    parser.add_argument(
        "--alpha", type=float, help="dense weight of the convex hybrid fusion (0-1; default tuned)"
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.alpha is not None and not 0 <= args.alpha <= 1:
        parser.error(f"--alpha: {args.alpha} is not between 0 and 1")
    if args.alpha is not None and args.fusion == "rrf":
        parser.error("--alpha weighs the convex fusion only, not rrf")
    evaluate(
        args.dataset, args.collection, args.data_dir, args.modes.split(","), args.fusion,
        args.alpha,
    )  # fmt: skip
    return EXIT_OK


def evaluate(
    dataset_dir: str,
    collection_name: str,
    data_dir: str | None,
    modes: list[str],
    fusion: str | None = None,
    alpha: float | None = None,
) -> None:
    """Index a BEIR-layout dataset into a collection and print each mode's metrics."""
    from app.evaluation import evaluate_modes, index_dataset, load_beir
    from app.models.encoder import Encoder
    from app.store.catalog import Catalog

    dataset = load_beir(Path(dataset_dir))
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(data_dir) if data_dir else Path(tmp)
        catalog = Catalog(folder, Encoder.from_settings(settings))
        catalog.open_all()
        collection = catalog.get_or_create(collection_name)
        index_dataset(collection, dataset)
        table = evaluate_modes(collection, dataset, modes, fusion=fusion, alpha=alpha)
        catalog.close()
    print(f"{dataset_dir}: {len(dataset.corpus)} documents, {len(dataset.queries)} queries")
    print(f"{'mode':<10}" + "".join(f"{m:>12}" for m in METRICS))
    for mode, scores in table.items():
        print(f"{mode:<10}" + "".join(f"{scores[m]:>12.3f}" for m in METRICS))
