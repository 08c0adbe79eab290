"""Decoder tokens/s on both backends and through the service, and translator sentences/s.

Runs the two decoder backends in this process on the same prompt and settings (greedy, the same
number of new tokens), taking turns round by round so that both see the same machine, and prints
their ratio; checks that both answer "What is the capital of France?"; then starts the real
service (the default backend) on 127.0.0.1 and alternates HTTP and in-process runs, and measures
the server's CPU time while it generates and while it idles.

    .venv/bin/python benchmarks/bench_models.py
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.models.decoder import Decoder, GenerationParams, load_decoder  # noqa: E402
from app.models.seq2seq import load_translator  # noqa: E402
from tests.helpers import ServerProcess, kjv_verses  # noqa: E402

PROMPT = (
    "<|im_start|>user\nWrite a long, detailed story about a lighthouse keeper and the sea."
    "<|im_end|>\n<|im_start|>assistant\n"
)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
BACKENDS = ("llama", "transformers")


def cpu_flags() -> str:
    """The vector instruction sets of this CPU that matter to llama.cpp and ONNX Runtime."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")
    found = sorted(set(re.findall(r"\b(" + "|".join(wanted) + r")\b", text)))
    return " ".join(found) or "none of " + " ".join(wanted)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tokens_per_s(decoder: Decoder, params: GenerationParams) -> float:
    started = time.perf_counter()
    result = decoder.generate(PROMPT, params)
    return result.completion_tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="generation rounds per side")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per generation")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the server idles")
    parser.add_argument("--sentences", type=int, default=400, help="sentences to translate")
    parser.add_argument("--batch", type=int, default=16, help="sentences per translate call")
    args = parser.parse_args()

    settings = Settings()
    params = GenerationParams(max_new_tokens=args.tokens)
    decoders: dict[str, Decoder] = {}
    load_s: dict[str, float] = {}
    for backend in BACKENDS:
        started = time.perf_counter()
        decoders[backend] = load_decoder(
            settings.generator,
            settings.model_cache_dir,
            backend=backend,  # type: ignore[arg-type]
            context_tokens=settings.max_prompt_tokens + settings.max_new_tokens,
            threads=settings.decoder_threads,
        )
        load_s[backend] = time.perf_counter() - started
    answers = {}
    for backend, decoder in decoders.items():
        prompt = decoder.chat_prompt(QUESTION)
        answers[backend] = decoder.generate(prompt, GenerationParams(max_new_tokens=32)).text
        decoder.generate(PROMPT, GenerationParams(max_new_tokens=8))
    rates: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(args.rounds):
        for backend, decoder in decoders.items():
            rates[backend].append(tokens_per_s(decoder, params))

    translator = load_translator(settings.translator)
    sentences = [str(v["text"]) for v in kjv_verses(args.sentences)]
    batches = [sentences[i : i + args.batch] for i in range(0, len(sentences), args.batch)]
    body = {"prompt": PROMPT, "max_new_tokens": args.tokens}
    local = decoders[settings.decoder_backend if settings.decoder_backend != "auto" else "llama"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SEMSEARCH_PRELOAD_MODELS": "true"}
        server = ServerProcess(Path(tmp) / "data", env).start()
        assert server.proc is not None
        pid = server.proc.pid
        try:
            with httpx.Client(base_url=server.url, timeout=600) as http:
                http.post("/generate", json={**body, "max_new_tokens": 8}).raise_for_status()
                http.post("/translate", json={"texts": batches[0], "source": "en", "target": "pt"})
                http_tps, local_tps = [], []
                busy_cpu = busy_wall = 0.0
                for _ in range(args.rounds):
                    cpu, t = cpu_seconds(pid), time.perf_counter()
                    r = http.post("/generate", json=body).json()
                    wall = time.perf_counter() - t
                    busy_cpu, busy_wall = busy_cpu + cpu_seconds(pid) - cpu, busy_wall + wall
                    http_tps.append(r["usage"]["completion_tokens"] / wall)
                    local_tps.append(tokens_per_s(local, params))
                cpu, t = cpu_seconds(pid), time.perf_counter()
                time.sleep(args.idle)
                idle_cpu, idle_wall = cpu_seconds(pid) - cpu, time.perf_counter() - t
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

    llama, torch_ = statistics.median(rates["llama"]), statistics.median(rates["transformers"])
    gen_http, gen_local = statistics.median(http_tps), statistics.median(local_tps)
    tr_http, tr_local = len(sentences) / http_s, len(sentences) / local_s
    print(f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    threads = getattr(decoders["llama"], "threads", "?")
    print(f"decoder {settings.generator}, greedy, {args.tokens} new tokens, {args.rounds} rounds "
          f"each, backends taking turns; llama.cpp threads: {threads}")  # fmt: skip
    print(f"{'backend':<14}{'load s':>8}{'tokens/s (median)':>20}{'min':>8}{'max':>8}  "
          f"'What is the capital of France?'")  # fmt: skip
    for backend in BACKENDS:
        r = rates[backend]
        print(f"{backend:<14}{load_s[backend]:>8.1f}{statistics.median(r):>20.1f}{min(r):>8.1f}"
              f"{max(r):>8.1f}  {answers[backend]!r}")  # fmt: skip
    print(f"llama.cpp / transformers tokens/s: {llama / torch_:.2f}x")
    print()
    print(f"translator {settings.translator}, {len(sentences)} King James verses en->pt")
    print(f"{'figure':<28}{'HTTP service':>14}{'in-process':>14}{'ratio':>10}")
    print(f"{'decoder tokens/s (median)':<28}{gen_http:>14.1f}{gen_local:>14.1f}"
          f"{gen_http / gen_local:>9.2f}x")  # fmt: skip
    print(f"{'translator sentences/s':<28}{tr_http:>14.1f}{tr_local:>14.1f}"
          f"{tr_http / tr_local:>9.2f}x")  # fmt: skip
    print(f"server CPU time / wall time while generating: {busy_cpu / busy_wall:.2f} "
          f"({busy_cpu:.1f} s over {busy_wall:.1f} s)")  # fmt: skip
    print(f"server CPU time / wall time while idle after generating: {idle_cpu / idle_wall:.3f} "
          f"({idle_cpu:.2f} s over {idle_wall:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
