"""The encoder's tokenizer read from a `tokenizer.json` with the tokenizers library alone, for an
encoder that runs on ONNX Runtime without loading transformers, sentence-transformers or torch.

It answers the calls the encoder makes of a transformers fast tokenizer (the same Rust tokenizer
underneath, so the same ids, offsets and special tokens), and gives the padded inputs of a
forward pass.
"""

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_FILE = "tokenizer.json"
ENCODER_INFO_FILE = "encoder.json"
"""What the encoder needs besides the tokenizer: window, dimension, pad id, input names."""


class JsonTokenizer:
    """A transformers-like view of one tokenizers.Tokenizer: thread-safe, since the truncating
    and the plain tokenizer are separate objects whose settings never change after load."""

    def __init__(self, tokenizer_file: Path, info: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self.info = info
        self.max_length = int(info["max_seq_length"])
        self.pad_token_id = int(info["pad_token_id"])
        self.model_input_names: list[str] = list(info["model_input_names"])
        self.lowercase = bool(info.get("do_lower_case", False))
        self._specials = int(info["special_tokens"])
        self._plain = Tokenizer.from_file(str(tokenizer_file))
        self._plain.no_truncation()
        self._plain.no_padding()
        self._window = Tokenizer.from_file(str(tokenizer_file))
        self._window.no_padding()
        self._window.enable_truncation(self.max_length)

    @classmethod
    def load(cls, folder: Path) -> "JsonTokenizer | None":
        """The tokenizer saved in `folder` by save_tokenizer, or None where there is none."""
        try:
            info = json.loads((folder / ENCODER_INFO_FILE).read_text())
        except (OSError, ValueError):
            return None
        return cls(folder / TOKENIZER_FILE, info)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._specials

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self._plain.id_to_token(i) or "" for i in ids]

    def __call__(
        self,
        texts: list[str],
        *,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        return_attention_mask: bool = True,
        return_token_type_ids: bool = True,
        verbose: bool = True,
    ) -> dict[str, list[Any]]:
        """Unpadded lists per text, as a transformers fast tokenizer gives them."""
        if truncation and max_length not in (None, self.max_length):
            raise ValueError(f"this tokenizer truncates at {self.max_length} tokens only")
        tokenizer = self._window if truncation else self._plain
        encoded = tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        found: dict[str, list[Any]] = {"input_ids": [e.ids for e in encoded]}
        if return_token_type_ids:
            found["token_type_ids"] = [e.type_ids for e in encoded]
        if return_attention_mask:
            found["attention_mask"] = [e.attention_mask for e in encoded]
        if return_offsets_mapping:
            found["offset_mapping"] = [e.offsets for e in encoded]
        if return_special_tokens_mask:
            found["special_tokens_mask"] = [e.special_tokens_mask for e in encoded]
        return found

    def features(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The model's inputs for `texts` as sentence-transformers prepares them: stripped,
        (lowercased where the model says so), cut to the window and padded to the longest."""
        prepared = [str(t).strip() for t in texts]
        if self.lowercase:
            prepared = [t.lower() for t in prepared]
        encoded = self._window.encode_batch(prepared)
        width = max((len(e.ids) for e in encoded), default=0)
        names = self.model_input_names
        feed = {n: np.zeros((len(encoded), width), dtype=np.int64) for n in names}
        feed["input_ids"][:] = self.pad_token_id
        for row, e in enumerate(encoded):
            length = len(e.ids)
            feed["input_ids"][row, :length] = e.ids
            feed["attention_mask"][row, :length] = 1
            if "token_type_ids" in feed:
                feed["token_type_ids"][row, :length] = e.type_ids
        return feed


def save_tokenizer(model: Any, folder: Path, samples: list[str]) -> bool:
    """Write the sentence-transformers `model`'s tokenizer and the encoder's facts into `folder`
    if JsonTokenizer gives exactly the model's own inputs for `samples`; returns whether it did.
    ENCODER_INFO_FILE is written last, so its presence means the folder has both."""
    from app.models.encoder_onnx import model_features

    tokenizer = model.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or getattr(tokenizer, "padding_side", "right") != "right":
        return False
    dimension = model.get_embedding_dimension() or model.encode(["dimension probe"]).shape[1]
    info = {
        "max_seq_length": int(model.max_seq_length or 512),
        "dimension": int(dimension),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "special_tokens": int(tokenizer.num_special_tokens_to_add(pair=False)),
        "model_input_names": [
            n
            for n in ("input_ids", "attention_mask", "token_type_ids")
            if n in tokenizer.model_input_names or n != "token_type_ids"
        ],
        "do_lower_case": bool(getattr(model[0], "do_lower_case", False)),
    }
    staging = folder / f".{TOKENIZER_FILE}.{os.getpid()}.tmp"
    backend.save(str(staging))
    try:
        got = JsonTokenizer(staging, info).features(samples)
        expected = model_features(model, samples)
        if not all(n in expected and np.array_equal(got[n], expected[n].numpy()) for n in got):
            return False
        os.replace(staging, folder / TOKENIZER_FILE)
    finally:
        staging.unlink(missing_ok=True)
    written = folder / f".{ENCODER_INFO_FILE}.{os.getpid()}.tmp"
    written.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(written, folder / ENCODER_INFO_FILE)
    return True
