"""The ask prompt numbers its sources and keeps as many as fit the budget."""

from app.ask import INSTRUCTIONS, Passage, ask_messages, fit_passages


def render(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def words(text: str) -> int:
    return len(text.split())


PASSAGES = [Passage(f"d{i}", 1 - i / 10, " ".join([f"w{i}"] * 30)) for i in range(4)]


def test_sources_are_numbered_in_order_after_the_instructions() -> None:
    messages = ask_messages("why?", PASSAGES[:2])
    assert messages[0] == {"role": "system", "content": INSTRUCTIONS}
    user = messages[1]["content"]
    assert user.index("[1] w0") < user.index("[2] w1") < user.index("Question: why?")


def test_every_passage_is_kept_when_the_budget_allows() -> None:
    prompt, kept = fit_passages("why?", PASSAGES, render, words, budget=10_000)
    assert kept == PASSAGES and "[4] w3" in prompt


def test_passages_beyond_the_budget_are_dropped_and_the_last_one_trimmed() -> None:
    full_two = words(render(ask_messages("why?", PASSAGES[:2])))
    prompt, kept = fit_passages("why?", PASSAGES, render, words, budget=full_two + 10)
    assert [p.id for p in kept] == ["d0", "d1", "d2"]
    assert words(kept[2].text) == 9  # "[3]" is a word of its own in this count
    assert words(prompt) <= full_two + 10


def test_no_passage_fits_a_budget_smaller_than_the_question() -> None:
    prompt, kept = fit_passages("why?", PASSAGES, render, words, budget=3)
    assert kept == [] and "why?" in prompt
