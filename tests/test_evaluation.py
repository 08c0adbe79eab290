"""Retrieval metrics against hand-computed values, and the BEIR reader on tiny folders."""

import json
from math import log2
from pathlib import Path

import pytest

from app.evaluation import (
    BeirDataset,
    evaluate,
    load_beir,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

LEE = Path(__file__).parent / "data" / "lee"


def test_ndcg_uses_graded_gains_and_the_ideal_order_of_the_qrels() -> None:
    relevant = {"a": 2, "b": 1, "c": 1}
    dcg = 3 / log2(3) + 1 / log2(4)
    ideal = 3 + 1 / log2(3) + 1 / log2(4)
    assert ndcg_at_k(["x", "a", "b"], relevant) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b", "c"], relevant) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "c", "b"], relevant) == pytest.approx(1.0)


def test_ndcg_with_tied_grades_ignores_their_order() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg_at_k(["b", "a"], relevant) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "x", "b"], relevant) == pytest.approx(1.5 / (1 + 1 / log2(3)))


def test_ndcg_cuts_both_the_run_and_the_ideal_at_k() -> None:
    relevant = {"a": 1, "b": 1, "c": 1}
    assert ndcg_at_k(["a"], relevant, k=1) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "a"], relevant, k=1) == 0.0
    assert ndcg_at_k(["a"], relevant, k=10) == pytest.approx(1 / (1 + 1 / log2(3) + 0.5))


def test_a_repeated_id_counts_once_at_its_first_rank() -> None:
    assert ndcg_at_k(["a", "a", "b"], {"a": 1, "b": 1}) == pytest.approx(1.0)
    assert recall_at_k(["a", "a", "b"], {"a": 1, "b": 1}, k=2) == 1.0


def test_recall_counts_relevant_documents_in_the_top_k() -> None:
    relevant = {"a": 1, "b": 2, "c": 1, "d": 1}
    ranked = ["a", "x", "c", "y", "b"]
    assert recall_at_k(ranked, relevant, k=3) == 0.5
    assert recall_at_k(ranked, relevant, k=5) == 0.75
    assert recall_at_k(ranked, relevant, k=100) == 0.75


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_within_k() -> None:
    relevant = {"a": 1, "b": 2}
    assert mrr_at_k(["a", "b"], relevant) == 1.0
    assert mrr_at_k(["x", "y", "b", "a"], relevant) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "b"], relevant, k=2) == 0.0


def test_nothing_relevant_retrieved_scores_zero() -> None:
    relevant = {"a": 1}
    for ranked in (["x", "y"], []):
        assert ndcg_at_k(ranked, relevant) == 0.0
        assert recall_at_k(ranked, relevant, k=10) == 0.0
        assert mrr_at_k(ranked, relevant) == 0.0


def test_a_query_without_relevant_documents_scores_zero() -> None:
    for relevant in ({}, {"a": 0}):
        assert ndcg_at_k(["a", "b"], relevant) == 0.0
        assert recall_at_k(["a", "b"], relevant, k=10) == 0.0
        assert mrr_at_k(["a", "b"], relevant) == 0.0


def test_k_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        recall_at_k(["a"], {"a": 1}, k=0)


def test_evaluate_averages_over_the_qrels_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 2, "c": 1}, "q3": {"d": 1}, "q4": {"e": 1}}
    run = {
        "q1": ["a"],
        "q2": ["c", "b"],
        "q4": [f"n{i}" for i in range(49)] + ["e"],
        "not-judged": ["a"],
    }
    q2_ndcg = (1 + 3 / log2(3)) / (3 + 1 / log2(3))
    scores = evaluate(run, qrels)
    assert scores == {
        "ndcg@10": pytest.approx((1 + q2_ndcg) / 4),
        "recall@10": pytest.approx(2 / 4),
        "recall@100": pytest.approx(3 / 4),
        "mrr@10": pytest.approx(2 / 4),
    }


def test_evaluate_rejects_empty_qrels() -> None:
    with pytest.raises(ValueError, match="qrels is empty"):
        evaluate({"q1": ["a"]}, {})


def write_beir(
    folder: Path,
    corpus: str | None = None,
    queries: str | None = None,
    qrels: str | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    documents = [
        {"_id": "d1", "title": "Cats", "text": "Cats purr."},
        {"_id": "d2", "text": "Dogs bark."},
        {"_id": 3, "title": "", "text": "Birds sing."},
    ]
    questions = [
        {"_id": "q1", "text": "what purrs"},
        {"_id": "q2", "text": "what barks"},
        {"_id": "q3", "text": "unjudged"},
        {"_id": "q4", "text": "only zero scores"},
    ]
    default_qrels = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t3\t1\nq2\td2\t1\nq4\td1\t0\n"
    (folder / "corpus.jsonl").write_text(
        corpus if corpus is not None else "\n".join(json.dumps(d) for d in documents) + "\n\n",
        encoding="utf-8",
    )
    (folder / "queries.jsonl").write_text(
        queries if queries is not None else "\n".join(json.dumps(q) for q in questions) + "\n",
        encoding="utf-8",
    )
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(
        qrels if qrels is not None else default_qrels, encoding="utf-8"
    )
    return folder


def test_load_beir_reads_a_folder_and_keeps_judged_queries(tmp_path: Path) -> None:
    dataset = load_beir(write_beir(tmp_path / "tiny"))
    assert dataset == BeirDataset(
        corpus={
            "d1": {"title": "Cats", "text": "Cats purr."},
            "d2": {"title": "", "text": "Dogs bark."},
            "3": {"title": "", "text": "Birds sing."},
        },
        queries={"q1": "what purrs", "q2": "what barks"},
        qrels={"q1": {"d1": 2, "3": 1}, "q2": {"d2": 1}},
    )


def test_load_beir_reads_the_named_split(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "tiny")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td1\t1\n")
    assert load_beir(folder, split="dev").qrels == {"q2": {"d1": 1}}


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_load_beir_names_a_missing_file(tmp_path: Path, missing: str) -> None:
    folder = write_beir(tmp_path / "tiny")
    (folder / missing).unlink()
    with pytest.raises(ValueError, match=f"missing file: .*{missing}"):
        load_beir(folder)


def test_load_beir_names_a_missing_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing file: .*qrels/dev.tsv"):
        load_beir(write_beir(tmp_path / "tiny"), split="dev")


@pytest.mark.parametrize(
    ("corpus", "message"),
    [
        ('{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n', "line 2: not valid JSON"),
        ('{"text": "no id"}\n', 'line 1: expected a JSON object with an "_id"'),
        ('["d1", "text"]\n', 'line 1: expected a JSON object with an "_id"'),
        ('{"_id": "d1"}\n', 'line 1: "text" must be a string'),
        ('{"_id": "d1", "title": 5, "text": "t"}\n', 'line 1: "title" must be a string'),
        ('{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n', "line 2: duplicate _id 'd1'"),
    ],
)
def test_load_beir_names_the_file_and_line_of_a_bad_record(
    tmp_path: Path, corpus: str, message: str
) -> None:
    folder = write_beir(tmp_path / "tiny", corpus=corpus, qrels="query-id\tcorpus-id\tscore\n")
    with pytest.raises(ValueError) as error:
        load_beir(folder)
    assert str(error.value).startswith(f"{folder / 'corpus.jsonl'}, {message}")


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("q1\td1\t1\n", "line 1: expected the header query-id<TAB>corpus-id<TAB>score"),
        (
            "query-id\tcorpus-id\tscore\nq1 d1 1\n",
            "line 2: expected query-id<TAB>corpus-id<TAB>score",
        ),
        (
            "query-id\tcorpus-id\tscore\nq1\td1\t1\t9\n",
            "line 2: expected query-id<TAB>corpus-id<TAB>score",
        ),
        ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", "line 2: score 'high' is not an integer"),
    ],
)
def test_load_beir_names_the_line_of_a_malformed_qrel(
    tmp_path: Path, qrels: str, message: str
) -> None:
    folder = write_beir(tmp_path / "tiny", qrels=qrels)
    with pytest.raises(ValueError) as error:
        load_beir(folder)
    assert str(error.value) == f"{folder / 'qrels' / 'test.tsv'}, {message}"


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq9\td1\t1\n", "query id 'q9' is not in queries.jsonl"),
        ("query-id\tcorpus-id\tscore\nq1\td9\t1\n", "corpus id 'd9' is not in corpus.jsonl"),
    ],
)
def test_load_beir_rejects_qrels_for_unknown_ids(tmp_path: Path, qrels: str, message: str) -> None:
    folder = write_beir(tmp_path / "tiny", qrels=qrels)
    with pytest.raises(ValueError) as error:
        load_beir(folder)
    assert str(error.value) == f"{folder / 'qrels' / 'test.tsv'}: {message}"


def test_the_lee_set_loads_with_one_grade_2_document_per_query() -> None:
    dataset = load_beir(LEE)
    assert len(dataset.corpus) == 343 and len(dataset.queries) == 50
    assert sum(len(relevant) for relevant in dataset.qrels.values()) == 290
    for i in range(50):
        relevant = dataset.qrels[f"q-{i:02d}"]
        assert [doc for doc, rel in relevant.items() if rel == 2] == [f"lee-{i:02d}"]
        assert dataset.corpus[f"lee-{i:02d}"]["text"].startswith(dataset.queries[f"q-{i:02d}"])
        assert all(doc.startswith("lee-") for doc in relevant)
