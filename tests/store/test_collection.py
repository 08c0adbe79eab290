"""A collection stores, replaces, deletes and finds documents, keeps them across a reopen,
and refuses an encoder it was not built with: on every backend."""

import pytest

from app.errors import BadInput, Conflict
from app.models.encoder import Encoder
from app.store.interface import ChunkRow, CollectionStore, DocumentRow, NewDocument
from tests.store.backends import Backend

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply on Monday.",
    "A recipe for tomato soup with basil.",
    "The football team won the championship.",
    "Rain is expected across the north tomorrow.",
]


def top_id(collection: CollectionStore, query: str) -> str:
    (hits,) = collection.search(collection.embed_queries([query]), 1)
    return hits[0].id


def filled(backend: Backend) -> CollectionStore:
    c = backend.create()
    c.upsert([NewDocument(t, f"d{i}") for i, t in enumerate(TEXTS)])
    return c


def test_upsert_then_search_finds_the_closest_document(store_backend: Backend) -> None:
    c = filled(store_backend)
    assert top_id(c, "kitten") == "d0"
    assert top_id(c, "weather forecast") == "d4"
    assert c.counts() == {"documents": 5, "chunks": 5, "vectors": 5}


def test_upserting_an_existing_id_replaces_its_text_and_vectors(store_backend: Backend) -> None:
    c = filled(store_backend)
    c.upsert([NewDocument("Quantum computers use qubits.", "d0")])
    assert c.get("d0").text == "Quantum computers use qubits."  # type: ignore[union-attr]
    assert top_id(c, "qubits") == "d0"
    assert top_id(c, "kitten") != "d0"
    assert c.counts() == {"documents": 5, "chunks": 5, "vectors": 5}


def test_delete_removes_the_document_and_its_vectors(store_backend: Backend) -> None:
    c = filled(store_backend)
    assert c.delete(["d0", "nope"]) == 1
    assert c.get("d0") is None
    assert top_id(c, "kitten") != "d0"
    assert c.counts() == {"documents": 4, "chunks": 4, "vectors": 4}


def test_replacing_a_source_deletes_its_documents_this_write_does_not_hold(
    store_backend: Backend,
) -> None:
    c = store_backend.create()
    c.upsert([NewDocument(t, f"f:{i}", {"source": "f"}) for i, t in enumerate(TEXTS[:3])])
    c.upsert([NewDocument(TEXTS[3], "other", {"source": "g"})])
    c.upsert([NewDocument(TEXTS[0], "f:0", {"source": "f"})], replace_source="f")
    assert sorted(d.id for d in c.page(10, 0)) == ["f:0", "other"]
    assert c.counts() == {"documents": 2, "chunks": 2, "vectors": 2}


def test_a_large_upsert_is_written_whole_with_ids_in_request_order(
    store_backend: Backend,
) -> None:
    c = store_backend.create()
    docs = [
        NewDocument(f"{TEXTS[i % 5]} Note {i}.", None if i % 4 == 0 else f"n{149 - i:03d}")
        for i in range(150)
    ]
    docs.append(NewDocument("Quantum computers use qubits.", "n100"))  # given twice
    ids = c.upsert(docs)
    assert len(ids) == 151
    assert all(ids[i] == d.id for i, d in enumerate(docs) if d.id is not None)
    assert len(set(ids)) == 150
    assert c.get("n100").text == "Quantum computers use qubits."  # type: ignore[union-attr]
    assert all(c.get(ids[i]) is not None for i in range(0, 150, 4))
    assert c.counts() == {"documents": 150, "chunks": 150, "vectors": 150}
    assert top_id(c, "qubits") == "n100"


def test_a_long_document_is_one_hit_with_its_best_chunk(store_backend: Backend) -> None:
    c = store_backend.create()
    long_text = " ".join(["Bread is baked from flour, water and yeast."] * 60)
    long_text += " The volcano erupted and lava flowed into the sea."
    c.upsert([NewDocument(long_text, "long"), NewDocument(TEXTS[0], "cat")])
    assert c.counts()["chunks"] > 2
    (hits,) = c.search(c.embed_queries(["volcanic eruption"]), 2)
    assert [h.id for h in hits].count("long") == 1
    long_hit = next(h for h in hits if h.id == "long")
    assert "volcano" in long_hit.chunk_text and long_hit.chunk_index > 0


def test_pages_go_through_every_document_in_write_order(store_backend: Backend) -> None:
    c = filled(store_backend)
    first = c.page(3, 0)
    rest = c.page(3, first[-1].num)
    assert [d.id for d in first + rest] == [f"d{i}" for i in range(5)]
    assert c.page(3, rest[-1].num) == []


def test_search_modes_offset_min_score_and_filter(store_backend: Backend) -> None:
    c = store_backend.create()
    c.upsert([NewDocument(t, f"d{i}", {"n": i}) for i, t in enumerate(TEXTS)])
    query = ["tomato soup"]
    vectors = c.embed_queries(query)
    (lexical,) = c.search(None, 5, texts=query, mode="lexical")
    assert [h.id for h in lexical] == ["d2"]
    (hybrid,) = c.search(vectors, 5, texts=query, mode="hybrid")
    assert hybrid[0].id == "d2" and len(hybrid) == 5
    (dense,) = c.search(vectors, 5)
    (shifted,) = c.search(vectors, 2, offset=1)
    assert [h.id for h in shifted] == [h.id for h in dense[1:3]]
    (above,) = c.search(vectors, 5, min_score=dense[1].score)
    assert [h.id for h in above] == [h.id for h in dense[:2]]
    (filtered,) = c.search(vectors, 5, {"n": {"$gte": 3}})
    assert sorted(h.id for h in filtered) == ["d3", "d4"]
    assert sorted(c.ids_matching({"n": {"$lt": 2}})) == ["d0", "d1"]


def test_bad_search_arguments_say_what_is_wrong(store_backend: Backend) -> None:
    c = filled(store_backend)
    vectors = c.embed_queries(["kitten"])
    with pytest.raises(BadInput, match="mode"):
        c.search(vectors, 1, mode="fuzzy")
    with pytest.raises(BadInput, match="query text"):
        c.search(vectors, 1, mode="lexical")
    with pytest.raises(BadInput, match="dimensions"):
        c.search(vectors[:, :10], 1)


def test_a_reopened_collection_finds_what_was_written(store_backend: Backend) -> None:
    c = filled(store_backend)
    reopened = store_backend.reopen(c)
    assert reopened.counts() == {"documents": 5, "chunks": 5, "vectors": 5}
    assert top_id(reopened, "kitten") == "d0"


def test_a_collection_built_by_another_encoder_refuses_to_search(
    store_backend: Backend, encoder: Encoder
) -> None:
    c = store_backend.create(model="other-model")
    (vector,) = encoder.encode([TEXTS[0]])
    c.store([DocumentRow("d0", TEXTS[0], {}, [ChunkRow(0, 0, len(TEXTS[0]), vector)])])
    reopened = store_backend.reopen(c)
    assert reopened.encoder_mismatch and "other-model" in reopened.encoder_mismatch
    with pytest.raises(Conflict):
        reopened.embed_queries(["kitten"])
    with pytest.raises(Conflict):
        reopened.upsert([NewDocument("x", "y")])
    assert reopened.get("d0") is not None


def test_a_collection_of_another_dimension_refuses_to_search(store_backend: Backend) -> None:
    c = store_backend.create("wide", model="other-model", dimension=768)
    reopened = store_backend.reopen(c)
    assert "768" in (reopened.encoder_mismatch or "")
    with pytest.raises(Conflict):
        reopened.embed_queries(["kitten"])


def test_count_and_page_by_filter(store_backend: Backend) -> None:
    c = store_backend.create()
    c.upsert([NewDocument(t, f"d{i}", {"n": i, "odd": i % 2 == 1}) for i, t in enumerate(TEXTS)])
    assert c.count_matching() == 5 and c.count_matching({}) == 5
    assert c.count_matching({"odd": True}) == 2
    first = c.page(2, 0, {"odd": False})
    rest = c.page(2, first[-1].num, {"odd": False})
    assert [d.id for d in first + rest] == ["d0", "d2", "d4"]
    assert c.page(10, 0, {"n": {"$gt": 10}}) == []
    with pytest.raises(BadInput, match="unknown operator"):
        c.count_matching({"n": {"$like": 1}})


def test_delete_matching_removes_every_match_and_survives_a_reopen(
    store_backend: Backend,
) -> None:
    c = store_backend.create()
    c.upsert([NewDocument(t, f"d{i}", {"n": i}) for i, t in enumerate(TEXTS)])
    assert c.delete_matching({"n": {"$in": [0, 2]}}) == 2
    assert c.delete_matching({"n": {"$in": [0, 2]}}) == 0
    expected = {"documents": 3, "chunks": 3, "vectors": 3}
    assert c.counts() == expected
    (lexical,) = c.search(None, 5, texts=["tomato cat"], mode="lexical")
    assert lexical == []
    reopened = store_backend.reopen(c)
    assert reopened.counts() == expected
    assert [d.id for d in reopened.page(10, 0)] == ["d1", "d3", "d4"]
    assert top_id(reopened, "kitten") != "d0"
    (lexical,) = reopened.search(None, 5, texts=["tomato cat"], mode="lexical")
    assert lexical == []


def test_delete_matching_refuses_an_empty_filter(store_backend: Backend) -> None:
    c = filled(store_backend)
    with pytest.raises(BadInput, match="filter"):
        c.delete_matching({})
    assert c.counts()["documents"] == 5


def test_patch_metadata_merges_without_embedding_again(store_backend: Backend) -> None:
    c = store_backend.create()
    c.upsert([NewDocument(t, f"d{i}", {"n": i, "lang": "en"}) for i, t in enumerate(TEXTS)])
    vectors = c.embed_queries(["kitten"])
    (before,) = c.search(vectors, 5)
    patched = c.patch_metadata("d0", {"lang": None, "tags": ["x"], "n": 10})
    assert patched is not None and patched.metadata == {"n": 10, "tags": ["x"]}
    assert patched.text == TEXTS[0]
    (after,) = c.search(vectors, 5)
    assert [(h.id, h.score) for h in after] == [(h.id, h.score) for h in before]
    assert after[0].metadata == {"n": 10, "tags": ["x"]}
    (filtered,) = c.search(vectors, 5, {"tags": "x"})
    assert [h.id for h in filtered] == ["d0"]
    assert c.patch_metadata("nope", {"a": 1}) is None
    with pytest.raises(BadInput, match="flat"):
        c.patch_metadata("d1", {"a": {"b": 1}})
    reopened = store_backend.reopen(c)
    assert reopened.get("d0").metadata == {"n": 10, "tags": ["x"]}  # type: ignore[union-attr]
    assert reopened.get("d1").metadata == {"n": 1, "lang": "en"}  # type: ignore[union-attr]
    assert reopened.counts() == {"documents": 5, "chunks": 5, "vectors": 5}
