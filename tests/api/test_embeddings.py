"""POST /embed at its three levels (sentence, document, token), its limits and bad input;
/v1/embeddings beside it; what /models and the OpenAPI schema say of the levels."""

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from app.store.encoding import chunk_limits
from app.text.chunking import chunk_by_tokens
from tests.conftest import make_client
from tests.helpers import kjv_verses

SOUP = (
    "Tomato soup with basil: soften onions and garlic in olive oil, add ripe tomatoes and "
    "stock, simmer for twenty minutes, blend until smooth, then stir in torn basil leaves and "
    "a little cream before serving."
)


def long_text(words: int = 3000) -> str:
    """About `words` words of scripture, ending with a paragraph on something else (SOUP)."""
    scripture: list[str] = []
    for verse in kjv_verses(600):
        scripture += verse["text"].split()
        if len(scripture) >= words:
            break
    return " ".join(scripture[: words - len(SOUP.split())]) + "\n\n" + SOUP


def embed(client: TestClient, texts: list[str], **options: object) -> dict[str, Any]:
    r = client.post("/embed", json={"texts": texts, **options})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def vectors(body: dict[str, Any]) -> np.ndarray:
    return np.asarray(body["embeddings"], dtype=np.float32)


@pytest.fixture(scope="module")
def small_limit_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("tokens") / "data", max_embed_tokens=12)
    yield from make_client(settings, encoder)


# -- sentence (the default) --------------------------------------------------------------------
def test_sentence_level_is_the_default_one_unit_vector_per_text(
    module_client: TestClient, encoder: Encoder
) -> None:
    body = embed(module_client, ["a cat", "a dog"])
    assert body["model"] == encoder.name and body["dimension"] == 384
    assert body["level"] == "sentence" and body["truncated"] == []
    assert "chunks" not in body and "token_embeddings" not in body
    got = vectors(body)
    assert got.shape == (2, 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.allclose(got, encoder.encode(["a cat", "a dog"]), atol=1e-5)


def test_sentence_level_reports_the_texts_cut_at_the_window(module_client: TestClient) -> None:
    body = embed(module_client, ["short", long_text(400), "also short"], level="sentence")
    assert body["truncated"] == [1]
    assert vectors(body).shape == (3, 384)


def test_openai_embeddings_still_match_the_sentence_level(module_client: TestClient) -> None:
    ours = vectors(embed(module_client, ["a cat"]))[0]
    r = module_client.post("/v1/embeddings", json={"input": "a cat", "encoding_format": "base64"})
    assert r.status_code == 200, r.text
    theirs = np.frombuffer(base64.b64decode(r.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(ours, theirs, atol=1e-5)


# -- document ----------------------------------------------------------------------------------
def test_document_level_pools_the_chunks_ingest_makes(
    module_client: TestClient, encoder: Encoder
) -> None:
    text = long_text(1000)
    body = embed(module_client, [text, "a cat on a mat"], level="document")
    settings = Settings()
    size, overlap = chunk_limits(encoder, settings.chunk_tokens, settings.chunk_overlap)
    chunks = chunk_by_tokens(text, encoder.token_offsets([text])[0], size, overlap)
    assert body["level"] == "document" and body["chunks"] == [len(chunks), 1]
    assert len(chunks) > 1 and "truncated" not in body
    mean = encoder.encode([c.text for c in chunks]).mean(axis=0)
    got = vectors(body)
    assert np.allclose(got[0], mean / np.linalg.norm(mean), atol=1e-5)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_a_text_that_fits_the_window_gets_its_sentence_vector(module_client: TestClient) -> None:
    texts = ["a cat on a mat", "stock markets fell sharply on Monday"]
    document = vectors(embed(module_client, texts, level="document"))
    sentence = vectors(embed(module_client, texts, level="sentence"))
    assert np.allclose(document, sentence, atol=1e-6)


def test_a_long_documents_vector_reaches_its_last_paragraph(
    module_client: TestClient, encoder: Encoder
) -> None:
    text = long_text(3000)
    assert len(text.split()) == 3000
    query = encoder.encode(["how do I make tomato soup with basil"])[0]
    document = vectors(embed(module_client, [text], level="document"))[0]
    sentence = vectors(embed(module_client, [text], level="sentence"))[0]
    assert float(document @ query) > float(sentence @ query)


# -- token -------------------------------------------------------------------------------------
@pytest.mark.parametrize("batching", [True, False], ids=["batched", "unbatched"])
def test_token_vectors_match_the_tokenizers_own_tokens_and_offsets(
    batching: bool, tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> None:
    texts = ["  The cat's whiskers twitched.", "unbelievably", "a"]
    settings = Settings(data_dir=tmp_path_factory.mktemp("t") / "data", encode_batching=batching)
    for client in make_client(settings, encoder):
        body = embed(client, texts, level="token")
    assert body["level"] == "token" and body["truncated"] == [] and "embeddings" not in body
    own = encoder.tokenizer(
        texts, truncation=True, max_length=encoder.max_seq_length, return_offsets_mapping=True
    )
    replies = body["token_embeddings"]
    assert [t["index"] for t in replies] == [0, 1, 2]
    for i, (text, reply) in enumerate(zip(texts, replies, strict=True)):
        ids = own["input_ids"][i]
        tokens = reply["tokens"]
        assert [t["id"] for t in tokens] == ids
        assert [t["token"] for t in tokens] == encoder.tokenizer.convert_ids_to_tokens(ids)
        assert [(t["start"], t["end"]) for t in tokens] == [
            tuple(o) for o in own["offset_mapping"][i]
        ]
        assert [t["special"] for t in tokens] == [True] + [False] * (len(ids) - 2) + [True]
        for t in tokens[1:-1]:  # each token is its span of the text
            assert text[t["start"] : t["end"]].lower() == t["token"].removeprefix("##")
        got = np.asarray(reply["embeddings"], dtype=np.float32)
        assert got.shape == (len(ids), 384)
        # Before pooling: the model's mean pooling of these gives the sentence vector.
        mean = got.mean(axis=0)
        assert float(mean / np.linalg.norm(mean) @ encoder.encode([text])[0]) > 0.9999


def test_token_vectors_are_contextual(module_client: TestClient) -> None:
    body = embed(
        module_client, ["the river bank flooded", "the bank raised its rates"], level="token"
    )
    replies = body["token_embeddings"]
    banks = [
        np.asarray(r["embeddings"][[t["token"] for t in r["tokens"]].index("bank")])
        for r in replies
    ]
    cosine = banks[0] @ banks[1] / np.linalg.norm(banks[0]) / np.linalg.norm(banks[1])
    assert cosine < 0.95


def test_token_vectors_come_in_base64_as_in_openai_embeddings(module_client: TestClient) -> None:
    texts = ["a cat sat", "on the mat"]
    floats = embed(module_client, texts, level="token")["token_embeddings"]
    packed = embed(module_client, texts, level="token", encoding_format="base64")
    for plain, coded in zip(floats, packed["token_embeddings"], strict=True):
        decoded = np.frombuffer(base64.b64decode(coded["embeddings"]), dtype="<f4")
        assert np.allclose(decoded.reshape(-1, 384), plain["embeddings"], atol=1e-6)
        assert coded["tokens"] == plain["tokens"]
    explicit = embed(module_client, texts, level="token", encoding_format="float")
    assert explicit["token_embeddings"] == floats


def test_a_text_past_the_window_returns_the_windows_tokens_and_is_reported(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> None:
    settings = Settings(data_dir=tmp_path_factory.mktemp("t") / "data", max_embed_tokens=300)
    for client in make_client(settings, encoder):
        body = embed(client, ["a cat", long_text(400)], level="token")
    replies = body["token_embeddings"]
    assert body["truncated"] == [1]
    assert len(replies[1]["tokens"]) == encoder.max_seq_length
    assert replies[1]["tokens"][-1]["special"]


def test_the_token_limit_counts_special_tokens_and_names_the_setting(
    small_limit_client: TestClient,
) -> None:
    exactly = embed(small_limit_client, ["a cat", "on the mat", "b"], level="token")  # 4+5+3
    assert sum(len(t["tokens"]) for t in exactly["token_embeddings"]) == 12
    r = small_limit_client.post(
        "/embed", json={"texts": ["a cat sat on the mat"] * 2, "level": "token"}
    )
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "max_embed_tokens" in message and "16 tokens" in message and "12" in message
    # The limit is the token level's: the other levels take the same texts.
    for level in ("sentence", "document"):
        embed(small_limit_client, ["a cat sat on the mat"] * 2, level=level)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"texts": ["a"], "level": "paragraph"}, ["level", "sentence", "document", "token"]),
        ({"texts": ["a"], "level": None}, ["level"]),
        ({"texts": ["a"], "encoding_format": "base64"}, ["encoding_format", "'sentence'"]),
        (
            {"texts": ["a"], "level": "document", "encoding_format": "float"},
            ["encoding_format", "'document'", "'token'"],
        ),
        ({"texts": ["a"], "level": "token", "encoding_format": "hex"}, ["encoding_format"]),
        ({"texts": ["a"], "level": "token", "pooling": "max"}, ["pooling"]),
        ({"texts": [], "level": "token"}, ["texts"]),
        ({"texts": ["ok", " "], "level": "document"}, ["texts", "1"]),
    ],
    ids=[
        "unknown level",
        "null level",
        "format at sentence",
        "format at document",
        "unknown format",
        "unknown option",
        "no texts",
        "blank text",
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    module_client: TestClient, body: dict[str, object], named: list[str]
) -> None:
    r = module_client.post("/embed", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    for word in named:
        assert word in error["message"]


def test_too_long_a_text_is_refused_at_every_level(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> None:
    settings = Settings(data_dir=tmp_path_factory.mktemp("t") / "data", max_text_chars=50)
    for client in make_client(settings, encoder):
        for level in ("sentence", "document", "token"):
            r = client.post("/embed", json={"texts": ["ok", "x" * 51], "level": level})
            assert r.status_code == 400
            assert "texts.1" in r.json()["error"]["message"]


# -- what the service says of the levels -------------------------------------------------------
def test_models_lists_the_encoders_levels_and_window(module_client: TestClient) -> None:
    models = {m["task"]: m for m in module_client.get("/models").json()["models"]}
    encoder = models["embedding"]
    assert encoder["levels"] == ["sentence", "document", "token"]
    assert encoder["window_tokens"] == 256


def test_the_openapi_schema_describes_the_levels(module_client: TestClient) -> None:
    schema = module_client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["EmbedRequest"]["properties"]
    assert request["level"]["enum"] == ["sentence", "document", "token"]
    assert request["level"]["default"] == "sentence"
    for level in ("sentence", "document", "token"):
        assert level in request["level"]["description"]
    assert "token" in str(request["encoding_format"])
    response = schema["components"]["schemas"]["EmbedResponse"]["properties"]
    assert {"embeddings", "truncated", "chunks", "token_embeddings"} <= set(response)
