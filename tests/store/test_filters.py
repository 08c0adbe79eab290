"""Metadata filters select the documents users expect, on a real SQLite store."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.errors import BadInput
from app.store.docstore import ChunkRow, DocStore, DocumentRow
from app.store.filters import compile_filter

DOCS: dict[str, dict[str, Any]] = {
    "a": {"lang": "en", "year": 2019, "tags": ["news", "tech"], "draft": False},
    "b": {"lang": "en", "year": 2021, "tags": ["sport"], "score": 4.5},
    "c": {"lang": "fr", "year": 2023, "draft": True},
    "d": {"lang": "de", "title": "Zeit"},
    "e": {"lang": None, "year": "2020"},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DocStore:
    path: Path = tmp_path_factory.mktemp("filters") / "docstore.sqlite"
    store = DocStore(path, 2)
    vec = np.ones(2, dtype=np.float32)
    rows = [DocumentRow(i, f"text {i}", m, [ChunkRow(0, 0, 6, vec)]) for i, m in DOCS.items()]
    store.write(rows, [])
    return store


def matching(store: DocStore, filter_: dict[str, Any]) -> set[str]:
    where, params = compile_filter(filter_)
    rows = store._reader().execute(f"SELECT id FROM documents WHERE {where}", params)
    return {r[0] for r in rows}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"lang": "en"}, {"a", "b"}),
        ({"lang": {"$eq": "fr"}}, {"c"}),
        ({"lang": {"$ne": "en"}}, {"c", "d", "e"}),
        ({"lang": {"$in": ["fr", "de"]}}, {"c", "d"}),
        ({"lang": {"$nin": ["fr", "de"]}}, {"a", "b", "e"}),
        ({"lang": None}, {"e"}),
        ({"year": {"$gte": 2021}}, {"b", "c"}),
        ({"year": {"$gt": 2019, "$lt": 2023}}, {"b"}),
        ({"year": {"$lte": 2019}}, {"a"}),
        ({"score": {"$gt": 4}}, {"b"}),
        ({"tags": "tech"}, {"a"}),
        ({"tags": {"$in": ["sport", "tech"]}}, {"a", "b"}),
        ({"tags": {"$ne": "tech"}}, {"b", "c", "d", "e"}),
        ({"draft": True}, {"c"}),
        ({"draft": False}, {"a"}),
        ({"lang": "en", "year": {"$gte": 2020}}, {"b"}),
        ({"title": {"$gte": "Z"}}, {"d"}),
        ({"missing": "x"}, set()),
        ({}, {"a", "b", "c", "d", "e"}),
    ],
)
def test_filter_selects(store: DocStore, filter_: dict[str, Any], expected: set[str]) -> None:
    assert matching(store, filter_) == expected


def test_a_range_on_numbers_does_not_match_numeric_strings(store: DocStore) -> None:
    assert "e" not in matching(store, {"year": {"$gte": 2000}})


def test_chunk_ids_follow_the_filter(store: DocStore) -> None:
    assert len(store.chunk_ids_matching({"lang": "en"})) == 2


@pytest.mark.parametrize(
    ("filter_", "names"),
    [
        ({"year": {"$regex": "x"}}, ["filter.year.$regex", "$gte"]),
        ({"year": {}}, ["filter.year"]),
        ({"year": {"$in": "2020"}}, ["filter.year.$in", "list"]),
        ({"year": {"$in": []}}, ["filter.year.$in"]),
        ({"year": {"$gt": [1]}}, ["filter.year.$gt"]),
        ({"year": {"$gt": True}}, ["filter.year.$gt"]),
        ({"tags": ["a", "b"]}, ["filter.tags"]),
        ({'bad"key': 1}, ["filter", "quotes"]),
        ({"year": {"$in": list(range(1001))}}, ["filter.year.$in", "1000"]),
    ],
)
def test_bad_filters_name_the_field(filter_: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(BadInput) as err:
        compile_filter(filter_)
    for name in names:
        assert name in err.value.message
