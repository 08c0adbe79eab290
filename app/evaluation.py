"""Retrieval quality: nDCG, recall and MRR over ranked doc ids, and a reader for BEIR folders."""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store.interface import CollectionStore

QRELS_HEADER = ["query-id", "corpus-id", "score"]
QRELS_LAYOUT = "query-id<TAB>corpus-id<TAB>score"


@dataclass(frozen=True)
class BeirDataset:
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path, fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Records of a JSONL file by "_id", each holding `fields` (missing "title" reads as "")."""
    if not path.is_file():
        raise ValueError(f"missing file: {path}")
    records: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict) or "_id" not in record:
                raise ValueError(f'{where}: expected a JSON object with an "_id"')
            doc_id = str(record["_id"])
            if doc_id in records:
                raise ValueError(f"{where}: duplicate _id {doc_id!r}")
            values: dict[str, str] = {}
            for field in fields:
                value = record.get(field, "" if field == "title" else None)
                if not isinstance(value, str):
                    raise ValueError(f'{where}: "{field}" must be a string')
                values[field] = value
            records[doc_id] = values
    return records


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Relevance judgements of a BEIR qrels TSV; scores of 0 or below are dropped."""
    if not path.is_file():
        raise ValueError(f"missing file: {path}")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            where = f"{path}, line {number}"
            columns = line.rstrip("\r\n").split("\t")
            if number == 1:
                if columns != QRELS_HEADER:
                    raise ValueError(f"{where}: expected the header {QRELS_LAYOUT}")
                continue
            if not line.strip():
                continue
            if len(columns) != 3 or not columns[0] or not columns[1]:
                raise ValueError(f"{where}: expected {QRELS_LAYOUT}")
            query_id, doc_id, score_text = columns
            try:
                score = int(score_text)
            except ValueError:
                raise ValueError(f"{where}: score {score_text!r} is not an integer") from None
            if score >= 1:
                qrels.setdefault(query_id, {})[doc_id] = score
    return qrels


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """A BEIR folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv, keeping only the
    queries that have at least one relevant document."""
    folder = Path(folder)
    corpus = _read_jsonl(folder / "corpus.jsonl", ("title", "text"))
    all_queries = _read_jsonl(folder / "queries.jsonl", ("text",))
    qrels_path = folder / "qrels" / f"{split}.tsv"
    qrels = _read_qrels(qrels_path)
    for query_id, relevant in qrels.items():
        if query_id not in all_queries:
            raise ValueError(f"{qrels_path}: query id {query_id!r} is not in queries.jsonl")
        for doc_id in relevant:
            if doc_id not in corpus:
                raise ValueError(f"{qrels_path}: corpus id {doc_id!r} is not in corpus.jsonl")
    queries = {qid: record["text"] for qid, record in all_queries.items() if qid in qrels}
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)


def _top_k(ranked: list[str], k: int) -> list[str]:
    """The first k distinct ids of `ranked`; a repeated id keeps only its best rank."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    top: list[str] = []
    seen: set[str] = set()
    for doc_id in ranked:
        if doc_id not in seen:
            seen.add(doc_id)
            top.append(doc_id)
            if len(top) == k:
                break
    return top


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain with gain 2**rel - 1 at rank r discounted by
    log2(r + 1); 0 when nothing is relevant."""
    top = _top_k(ranked, k)
    grades = sorted((rel for rel in relevant.values() if rel > 0), reverse=True)[:k]
    ideal = sum((2**rel - 1) / math.log2(rank + 1) for rank, rel in enumerate(grades, start=1))
    if ideal == 0:
        return 0.0
    dcg = sum(
        (2 ** relevant.get(doc_id, 0) - 1) / math.log2(rank + 1)
        for rank, doc_id in enumerate(top, start=1)
        if relevant.get(doc_id, 0) > 0
    )
    return dcg / ideal


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Fraction of the relevant documents found in the top k; 0 when nothing is relevant."""
    wanted = {doc_id for doc_id, rel in relevant.items() if rel > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(_top_k(ranked, k))) / len(wanted)


def mrr_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the top k, else 0."""
    for rank, doc_id in enumerate(_top_k(ranked, k), start=1):
        if relevant.get(doc_id, 0) > 0:
            return 1 / rank
    return 0.0


def evaluate(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Means over the queries of `qrels` (a query missing from `run` scores 0) of nDCG@10,
    recall@10, recall@100 and MRR@10."""
    if not qrels:
        raise ValueError("qrels is empty: there is nothing to evaluate")
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for query_id, relevant in qrels.items():
        ranked = run.get(query_id, [])
        totals["ndcg@10"] += ndcg_at_k(ranked, relevant, 10)
        totals["recall@10"] += recall_at_k(ranked, relevant, 10)
        totals["recall@100"] += recall_at_k(ranked, relevant, 100)
        totals["mrr@10"] += mrr_at_k(ranked, relevant, 10)
    return {name: total / len(qrels) for name, total in totals.items()}


def index_dataset(collection: "CollectionStore", dataset: BeirDataset, batch: int = 256) -> None:
    """Upsert the corpus (title and text) into the collection under the corpus ids."""
    from app.store.interface import NewDocument

    docs = [
        NewDocument(f"{d['title']}\n{d['text']}".strip(), doc_id)
        for doc_id, d in dataset.corpus.items()
    ]
    for start in range(0, len(docs), batch):
        collection.upsert(docs[start : start + batch])


def evaluate_modes(
    collection: "CollectionStore",
    dataset: BeirDataset,
    modes: list[str],
    depth: int = 100,
    fusion: str | None = None,
    alpha: float | None = None,
) -> dict[str, dict[str, float]]:
    """The metrics of each search mode over the dataset's queries, on an indexed collection;
    `fusion` and `alpha` (the service's defaults when None) apply to the hybrid mode."""
    ids = list(dataset.queries)
    texts = [dataset.queries[i] for i in ids]
    vectors = collection.embed_queries(texts)
    table = {}
    for mode in modes:
        options: dict[str, Any] = {}
        if mode == "hybrid":
            options = {"alpha": alpha} | ({"fusion": fusion} if fusion else {})
        found = collection.search(vectors, depth, texts=texts, mode=mode, **options)
        run = {qid: [h.id for h in hits] for qid, hits in zip(ids, found, strict=True)}
        table[mode] = evaluate(run, dataset.qrels)
    return table
