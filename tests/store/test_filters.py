"""Metadata filters select the documents users expect, and a bad filter names its field: on
every backend."""

from typing import Any

import numpy as np
import pytest

from app.errors import BadInput
from app.models.encoder import Encoder
from app.store.interface import ChunkRow, CollectionStore, DocumentRow
from tests.store.backends import Backend

DOCS: dict[str, dict[str, Any]] = {
    "a": {"lang": "en", "year": 2019, "tags": ["news", "tech"], "draft": False},
    "b": {"lang": "en", "year": 2021, "tags": ["sport"], "score": 4.5},
    "c": {"lang": "fr", "year": 2023, "draft": True},
    "d": {"lang": "de", "title": "Zeit"},
    "e": {"lang": None, "year": "2020"},
}


@pytest.fixture(scope="module")
def store(module_store_backend: Backend, encoder: Encoder) -> CollectionStore:
    collection = module_store_backend.create("filters")
    vec = np.ones(encoder.dimension, dtype=np.float32) / np.sqrt(encoder.dimension)
    rows = [DocumentRow(i, f"text {i}", m, [ChunkRow(0, 0, 6, vec)]) for i, m in DOCS.items()]
    collection.store(rows)
    return collection


def matching(store: CollectionStore, filter_: dict[str, Any]) -> set[str]:
    return set(store.ids_matching(filter_))


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
def test_filter_selects(
    store: CollectionStore, filter_: dict[str, Any], expected: set[str]
) -> None:
    assert matching(store, filter_) == expected


def test_a_range_on_numbers_does_not_match_numeric_strings(store: CollectionStore) -> None:
    assert "e" not in matching(store, {"year": {"$gte": 2000}})


def test_a_filtered_search_returns_only_matching_documents(store: CollectionStore) -> None:
    query = np.ones((1, store.config.dimension), dtype=np.float32)
    (hits,) = store.search(query, 10, {"lang": "en"})
    assert sorted(h.id for h in hits) == ["a", "b"]


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
def test_bad_filters_name_the_field(
    store: CollectionStore, filter_: dict[str, Any], names: list[str]
) -> None:
    with pytest.raises(BadInput) as err:
        store.ids_matching(filter_)
    for name in names:
        assert name in err.value.message
