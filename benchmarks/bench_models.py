"""Decoder tokens/s and translator sentences/s through the service, beside in-process calls.

Starts the real service on 127.0.0.1 and alternates HTTP and in-process runs of the same work,
so that both see the same machine.

    .venv/bin/python benchmarks/bench_models.py
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.models.decoder import Decoder, GenerationParams  # noqa: E402
from app.models.seq2seq import load_translator  # noqa: E402
from tests.helpers import ServerProcess, kjv_verses  # noqa: E402

PROMPT = (
    "<|im_start|>user\nWrite a long, detailed story about a lighthouse keeper and the sea."
    "<|im_end|>\n<|im_start|>assistant\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="generation rounds per side")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per generation")
    parser.add_argument("--sentences", type=int, default=400, help="sentences to translate")
    parser.add_argument("--batch", type=int, default=16, help="sentences per translate call")
    args = parser.parse_args()

    settings = Settings()
    decoder = Decoder(settings.generator, settings.model_cache_dir)
    translator = load_translator(settings.translator)
    sentences = [str(v["text"]) for v in kjv_verses(args.sentences)]
    batches = [sentences[i : i + args.batch] for i in range(0, len(sentences), args.batch)]
    params = GenerationParams(max_new_tokens=args.tokens)
    body = {"prompt": PROMPT, "max_new_tokens": args.tokens}

    with tempfile.TemporaryDirectory() as tmp:
        env = {"SEMSEARCH_PRELOAD_MODELS": "true"}
        server = ServerProcess(Path(tmp) / "data", env).start()
        try:
            with httpx.Client(base_url=server.url, timeout=600) as http:
                http.post("/generate", json={**body, "max_new_tokens": 8}).raise_for_status()
                http.post("/translate", json={"texts": batches[0], "source": "en", "target": "pt"})
                decoder.generate(PROMPT, GenerationParams(max_new_tokens=8))
                http_tps, local_tps = [], []
                for _ in range(args.rounds):
                    t = time.perf_counter()
                    r = http.post("/generate", json=body).json()
                    http_tps.append(r["usage"]["completion_tokens"] / (time.perf_counter() - t))
                    t = time.perf_counter()
                    result = decoder.generate(PROMPT, params)
                    local_tps.append(result.completion_tokens / (time.perf_counter() - t))
                http_s = local_s = 0.0
                for batch in batches:
                    t = time.perf_counter()
                    http.post(
                        "/translate", json={"texts": batch, "source": "en", "target": "pt"}
                    ).raise_for_status()
                    http_s += time.perf_counter() - t
                    t = time.perf_counter()
                    translator.translate(batch, "en", "pt")
                    local_s += time.perf_counter() - t
        finally:
            server.stop()

    gen_http, gen_local = statistics.median(http_tps), statistics.median(local_tps)
    tr_http, tr_local = len(sentences) / http_s, len(sentences) / local_s
    print(f"decoder {settings.generator}, greedy, {args.tokens} new tokens, {args.rounds} rounds")
    print(f"translator {settings.translator}, {len(sentences)} King James verses en->pt")
    print(f"{'figure':<28}{'HTTP service':>14}{'in-process':>14}{'ratio':>10}")
    print(f"{'decoder tokens/s (median)':<28}{gen_http:>14.1f}{gen_local:>14.1f}"
          f"{gen_http / gen_local:>9.2f}x")  # fmt: skip
    print(f"{'translator sentences/s':<28}{tr_http:>14.1f}{tr_local:>14.1f}"
          f"{tr_http / tr_local:>9.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
