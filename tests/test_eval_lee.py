"""`semsearch eval` measures each search mode on the shipped Lee dataset; hybrid holds up."""

from pathlib import Path

import pytest

from app.cli import main
from app.evaluation import evaluate_modes, index_dataset, load_beir
from app.models.encoder import Encoder
from app.store.collection import Collection, CollectionConfig

LEE = Path(__file__).parent / "data" / "lee"


def test_hybrid_scores_no_lower_than_dense_on_lee(tmp_path: Path, encoder: Encoder) -> None:
    dataset = load_beir(LEE)
    info = encoder.info
    config = CollectionConfig("lee", info.name, info.dimension, info.normalized, "flat")
    collection = Collection.create(tmp_path / "lee", config, encoder)
    index_dataset(collection, dataset)
    table = evaluate_modes(collection, dataset, ["dense", "lexical", "hybrid"])
    for scores in table.values():
        assert set(scores) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert all(0 <= v <= 1 for v in scores.values())
    assert table["dense"]["ndcg@10"] > 0.5
    assert table["hybrid"]["ndcg@10"] >= table["dense"]["ndcg@10"]


def test_the_eval_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["eval", str(LEE), "--collection", "lee", "--modes", "dense,hybrid"])
    out = capsys.readouterr().out
    assert "343 documents, 50 queries" in out
    assert "ndcg@10" in out and "dense" in out and "hybrid" in out
