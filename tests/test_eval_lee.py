"""`semsearch eval` measures each search mode on the shipped Lee dataset; hybrid holds up."""

import json
from pathlib import Path

import pytest

from app.cli import main
from app.evaluation import evaluate_modes, index_dataset, load_beir
from app.models.encoder import Encoder
from app.store.embedded.collection import Collection
from app.store.interface import CollectionConfig

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
    better_recall = max(table["dense"]["recall@10"], table["lexical"]["recall@10"])
    assert table["hybrid"]["recall@10"] >= better_recall
    assert table["hybrid"]["recall@100"] > table["lexical"]["recall@100"]


def test_the_eval_command_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "qrels").mkdir()
    docs = ["The cat sat on the mat.", "Stock markets fell.", "Tomato soup with basil."]
    (tmp_path / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n" for i, t in enumerate(docs)
        )  # fmt: skip
    )
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"_id": "q0", "text": "a kitten"}) + "\n"
        + json.dumps({"_id": "q1", "text": "soup recipe"}) + "\n"
    )  # fmt: skip
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td2\t1\n"
    )
    main(["eval", str(tmp_path), "--collection", "tiny", "--modes", "dense,hybrid"])
    out = capsys.readouterr().out
    assert "3 documents, 2 queries" in out
    main(["eval", str(tmp_path), "--modes", "hybrid", "--fusion", "rrf"])
    assert "hybrid" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "--alpha", "0.5", "--fusion", "rrf"])
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "--alpha", "2"])
    capsys.readouterr()
    main(["eval", str(tmp_path), "--collection", "tiny", "--modes", "dense,hybrid"])
    out = capsys.readouterr().out
    assert "3 documents, 2 queries" in out
    assert "ndcg@10" in out and "dense" in out and "hybrid" in out
    dense_row = next(line for line in out.splitlines() if line.startswith("dense"))
    assert dense_row.split()[1:] == ["1.000", "1.000", "1.000", "1.000"]
