"""Hybrid search quality: every eval set in tests/data, every mode, and a sweep of the convex
fusion's normalisation and weight.

Indexes each BEIR-layout set (Lee, wiki, bible) with the real encoder into an embedded
collection, then prints nDCG@10, recall@10, recall@100 and MRR@10 of dense, lexical, hybrid
(the default fusion) and hybrid with reciprocal rank fusion, through `Collection.search` as the
service runs it. `--sweep` also fuses the dense and lexical candidates of each query (as a
k=10 search gets them) under several normalisations and weights, prints by how much hybrid
beats the better single mode in the worst set, and how each normalisation's best weight on all
sets but one does on the set left out.

    .venv/bin/python benchmarks/bench_fusion.py
    .venv/bin/python benchmarks/bench_fusion.py --sweep --data-dir /tmp/fusion-eval
"""

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.evaluation import BeirDataset, evaluate, index_dataset, load_beir  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402
from app.store.catalog import Catalog  # noqa: E402
from app.store.interface import CollectionStore, Hit  # noqa: E402
from app.store.ranking import (  # noqa: E402
    DEFAULT_ALPHA,
    HYBRID_DEPTH,
    Normaliser,
    convex_fusion,
    over_best,
    over_runner_up,
    reciprocal_rank_fusion,
)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS = ("lee", "wiki", "bible")
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
GOALS = ("ndcg@10", "recall@10")
ALPHAS = [round(a, 2) for a in np.arange(0.0, 1.0001, 0.05)]


def z_score(scores: np.ndarray) -> np.ndarray:
    std = float(scores.std())
    return (scores - scores.mean()) / std if std > 1e-12 else np.zeros_like(scores)


def cosine_tmm(scores: np.ndarray) -> np.ndarray:
    """Cosines from their theoretical minimum (-1) to the best of them (Bruch et al.'s TMM)."""
    return (scores + 1.0) / (float(scores.max()) + 1.0)


def min_max(scores: np.ndarray) -> np.ndarray:
    low, high = float(scores.min()), float(scores.max())
    return (scores - low) / (high - low) if high - low > 1e-12 else np.ones_like(scores)


NORMALISERS: dict[str, tuple[Normaliser, Normaliser]] = {
    "best/runner-up": (over_best, over_runner_up),  # the default
    "best/best": (over_best, over_best),
    "tmm": (cosine_tmm, over_best),
    "min-max": (min_max, min_max),
    "z-score": (z_score, z_score),
}


def collection_for(catalog: Catalog, name: str, dataset: BeirDataset) -> CollectionStore:
    """The set's collection, indexed unless a kept data folder holds it already."""
    if name in catalog.names():
        collection = catalog.get(name)
        if collection.counts()["documents"] == len(dataset.corpus):
            return collection
        catalog.delete(name)
    collection = catalog.create(name, index="flat")
    index_dataset(collection, dataset)
    return collection


def run_of(ids: list[str], found: list[list[Hit]]) -> dict[str, list[str]]:
    return {qid: [h.id for h in hits] for qid, hits in zip(ids, found, strict=True)}


def print_table(name: str, dataset: BeirDataset, table: dict[str, dict[str, float]]) -> None:
    print(f"\n{name}: {len(dataset.corpus)} documents, {len(dataset.queries)} queries")
    print(f"| mode | {' | '.join(METRICS)} |")
    print("|---|" + "---|" * len(METRICS))
    for mode, scores in table.items():
        print(f"| {mode} | " + " | ".join(f"{scores[m]:.3f}" for m in METRICS) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="also sweep normalisers and alpha")
    parser.add_argument("--data-dir", help="keep the indexed collections here between runs")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated sets")
    args = parser.parse_args()
    encoder = Encoder.from_settings(Settings())
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(args.data_dir or tmp), encoder)
        catalog.open_all()
        candidates: dict[str, tuple[BeirDataset, list[str], list[list[Hit]], list[list[Hit]]]] = {}
        for name in args.sets.split(","):
            dataset = load_beir(DATA / name)
            collection = collection_for(catalog, name, dataset)
            ids = list(dataset.queries)
            texts = [dataset.queries[i] for i in ids]
            vectors = collection.embed_queries(texts)

            def measured(mode: str, **options: object) -> dict[str, float]:
                found = collection.search(vectors, 100, texts=texts, mode=mode, **options)  # noqa: B023
                return evaluate(run_of(ids, found), dataset.qrels)  # noqa: B023

            table = {
                "dense": measured("dense"),
                "lexical": measured("lexical"),
                f"hybrid (convex, alpha {DEFAULT_ALPHA})": measured("hybrid"),
                "hybrid (rrf)": measured("hybrid", fusion="rrf"),
            }
            print_table(name, dataset, table)
            if args.sweep:
                dense = collection.search(vectors, HYBRID_DEPTH, texts=texts, mode="dense")
                lexical = collection.search(None, HYBRID_DEPTH, texts=texts, mode="lexical")
                candidates[name] = (dataset, ids, dense, lexical)
        catalog.close()
    if args.sweep:
        sweep(candidates)


def sweep(
    candidates: dict[str, tuple[BeirDataset, list[str], list[list[Hit]], list[list[Hit]]]],
) -> None:
    """For each normaliser and alpha: hybrid's margin over the better single mode, per set and
    goal metric, from the candidates a k=10 search fuses; the worst margin decides."""

    def scores(fusion: Callable[[list[Hit], list[Hit]], list[Hit]]) -> dict[str, dict[str, float]]:
        out = {}
        for name, (dataset, ids, dense, lexical) in candidates.items():
            fused = [fusion(d, lx)[:100] for d, lx in zip(dense, lexical, strict=True)]
            out[name] = evaluate(run_of(ids, fused), dataset.qrels)
        return out

    best_single = {}
    for name, (dataset, ids, dense, lexical) in candidates.items():
        d, lx = (
            evaluate(run_of(ids, dense), dataset.qrels),
            evaluate(run_of(ids, lexical), dataset.qrels),
        )
        best_single[name] = {m: max(d[m], lx[m]) for m in GOALS}

    def margins(table: dict[str, dict[str, float]]) -> list[float]:
        return [table[n][m] - best_single[n][m] for n in candidates for m in GOALS]

    names = list(candidates)
    header = " ".join(f"{n[:5]}:{m[:4]}{m[-2:]}" for n in names for m in GOALS)
    print(f"\nhybrid minus the better single mode (k=10, {HYBRID_DEPTH} candidates each)")
    print(f"{'fusion':<22} {'worst':>7}  {header}")
    rrf = margins(scores(lambda d, lx: reciprocal_rank_fusion([d, lx])))
    print(f"{'rrf':<22} {min(rrf):>+7.3f}  " + " ".join(f"{v:>+11.3f}" for v in rrf))
    found: dict[str, dict[float, list[float]]] = {}
    for label, normalisers in NORMALISERS.items():
        found[label] = {}
        for alpha in ALPHAS:
            values = margins(
                scores(lambda d, lx: convex_fusion(d, lx, alpha, normalisers))  # noqa: B023
            )
            found[label][alpha] = values
            row = " ".join(f"{v:>+11.3f}" for v in values)
            print(f"{label + ' ' + str(alpha):<22} {min(values):>+7.3f}  {row}")
    if len(names) > 1:
        leave_one_set_out(names, found)


def leave_one_set_out(names: list[str], found: dict[str, dict[float, list[float]]]) -> None:
    """For each normaliser and each set: the alpha with the best worst margin on the other
    sets, and its worst margin on the set left out."""
    print("\nleave one set out: alpha chosen on the other sets -> worst margin on the one left out")
    for label, by_alpha in found.items():
        cells = []
        for out, name in enumerate(names):
            kept = [i for i, n in enumerate(names) if n != name]
            alpha = max(by_alpha, key=lambda a: worst_of(by_alpha[a], kept))  # noqa: B023
            cells.append(f"{name} {alpha}: {worst_of(by_alpha[alpha], [out]):+.3f}")
        print(f"{label:<16} " + "   ".join(cells))


def worst_of(values: list[float], sets: list[int]) -> float:
    """The worst of a sweep row's margins over the given sets (their positions)."""
    width = len(GOALS)
    return min(values[i * width + j] for i in sets for j in range(width))


if __name__ == "__main__":
    main()
