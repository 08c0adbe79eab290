"""Sentence splitting: every character kept, sentences ended where a reader would end them."""

import pytest

from app.text.sentences import MAX_SENTENCE_CHARS, split_sentences

LONG_EN = (
    "The weather is nice today. I am going to the beach with my friends.\n\n"
    "We will swim in the sea. Then we will eat fish at a small restaurant.\n\n"
    "In the evening, we will go back home."
)


def joined(pieces: list[tuple[str, str]]) -> str:
    return "".join(sentence + separator for sentence, separator in pieces)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\n \t",
        "no sentence end here",
        "One. Two! Three? Four…",
        "  Leading spaces. And trailing ones.   ",
        LONG_EN,
        "\n\nFirst paragraph.\n\n\n  Indented second.\r\nWindows line.\n",
        "Dr. Smith met Mr. Jones, e.g. at 3.14 p.m. on Jan. 5. They left. J. R. R. Tolkien.",
        '"Is it?" he asked. "Yes." (She nodded.) Done',
        "1. Buy milk\n2. Sell eggs\n- a list item",
        "你好。谢谢！好的",
        "word " * 300,
        "x" * 1234,
    ],
)
def test_join_reproduces_the_input_exactly(text: str) -> None:
    assert joined(split_sentences(text)) == text


def test_empty_and_whitespace_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n ") == [("", "  \n ")]


def test_text_without_sentence_end_is_one_sentence() -> None:
    assert split_sentences("just some words") == [("just some words", "")]
    assert split_sentences("trailing space  ") == [("trailing space", "  ")]


def test_sentences_and_paragraph_breaks() -> None:
    assert split_sentences("Hello world. This is a test.\n\nSecond paragraph here!") == [
        ("Hello world.", " "),
        ("This is a test.", "\n\n"),
        ("Second paragraph here!", ""),
    ]


def test_leading_whitespace_and_line_breaks_stay_in_separators() -> None:
    assert split_sentences("\n  Title\n\n\n  Body text. More.\n") == [
        ("", "\n  "),
        ("Title", "\n\n\n  "),
        ("Body text.", " "),
        ("More.", "\n"),
    ]


def test_abbreviations_initials_and_numbers_do_not_end_sentences() -> None:
    sentences = [s for s, _ in split_sentences("Dr. Smith uses e.g. 3.14 daily. J. Doe agrees.")]
    assert sentences == ["Dr. Smith uses e.g. 3.14 daily.", "J. Doe agrees."]
    assert [s for s, _ in split_sentences("1. Buy milk")] == ["1. Buy milk"]
    assert [s for s, _ in split_sentences("It ends... and goes on.")] == ["It ends... and goes on."]


def test_words_that_look_like_abbreviations_still_end_sentences() -> None:
    assert [s for s, _ in split_sentences("Vamos nadar no mar. Então vamos comer.")] == [
        "Vamos nadar no mar.",
        "Então vamos comer.",
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split_sentences('"Is it?" He nodded.') == [('"Is it?"', " "), ("He nodded.", "")]


def test_cjk_sentence_marks_split_without_spaces() -> None:
    assert split_sentences("你好。谢谢！") == [("你好。", ""), ("谢谢！", "")]


def test_long_sentences_are_cut_at_whitespace() -> None:
    text = " ".join(["word"] * 300)
    pieces = split_sentences(text, max_chars=100)
    assert joined(pieces) == text
    assert all(0 < len(s) <= 100 and not s.startswith(" ") for s, _ in pieces)
    assert all(len(s) <= 100 for s, _ in split_sentences("y" * 250, max_chars=100))


def test_no_sentence_is_longer_than_the_default_limit() -> None:
    text = "word " * 400 + "end. " + "z" * 1200
    pieces = split_sentences(text)
    assert joined(pieces) == text
    assert max(len(s) for s, _ in pieces) == MAX_SENTENCE_CHARS
