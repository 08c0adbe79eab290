"""Answers grounded in retrieved documents: the prompt that joins retrieval and generation."""

from collections.abc import Callable
from dataclasses import dataclass

INSTRUCTIONS = (
    "Answer the question using only the numbered sources below. Cite the sources you use as "
    "[1], [2] and so on. If the sources do not contain the answer, say that you do not know."
)


@dataclass(frozen=True)
class Passage:
    id: str
    score: float
    text: str


def ask_messages(question: str, passages: list[Passage]) -> list[dict[str, str]]:
    sources = "\n\n".join(f"[{i}] {p.text}" for i, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Sources:\n{sources}\n\nQuestion: {question}"},
    ]


def fit_passages(
    question: str,
    passages: list[Passage],
    render: Callable[[list[dict[str, str]]], str],
    count_tokens: Callable[[str], int],
    budget: int,
) -> tuple[str, list[Passage]]:
    """The prompt with as many of the best passages as fit in `budget` tokens, trimming the
    last one that fits only in part; returns the prompt and the passages it holds."""
    kept: list[Passage] = []
    for passage in passages:
        trial = [*kept, passage]
        if count_tokens(render(ask_messages(question, trial))) <= budget:
            kept = trial
            continue
        words = passage.text.split()
        low, high = 0, len(words)
        while low < high:  # the longest prefix of the passage that still fits
            mid = (low + high + 1) // 2
            cut = Passage(passage.id, passage.score, " ".join(words[:mid]))
            if count_tokens(render(ask_messages(question, [*kept, cut]))) <= budget:
                low = mid
            else:
                high = mid - 1
        if low > 0:
            kept.append(Passage(passage.id, passage.score, " ".join(words[:low])))
        break
    return render(ask_messages(question, kept)), kept
