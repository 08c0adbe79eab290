"""Sentence splitting that keeps every character: joining the pieces gives back the text."""

import re

MAX_SENTENCE_CHARS = 500
"""Longer sentences are cut at whitespace so no model input is silently truncated."""

_LINE_BREAK = re.compile(r"(\s*\n\s*)")
_SENTENCE_END = re.compile(r"([.!?…。！？]+[\"'”’»)\]」』]*)(\s*)")
_CJK_END = re.compile(r"[。！？]")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "cf", "al", "approx"}
    | {"fig", "figs", "vol", "pp", "inc", "ltd", "corp", "dept"}
)


def _ends_sentence(sentence: str, punct: str, separator: str, rest: str) -> bool:
    """Whether a sentence mark followed by `separator` ends `sentence` before `rest`."""
    if not rest:
        return False
    if not separator:
        return bool(_CJK_END.search(punct))
    if punct.rstrip("\"'”’»)]」』").endswith("."):
        word = sentence.rsplit(None, 1)[-1].lstrip("\"'“‘«([").lower()
        if word.rstrip(".") in _ABBREVIATIONS or re.fullmatch(r"(?:[^\W\d_]\.)+", word):
            return False
        if re.fullmatch(r"\d{1,3}\.", sentence.strip()):
            return False
    return not rest[0].islower()


def _split_line(line: str) -> list[tuple[str, str]]:
    """Sentences of one line without line breaks; the line's trailing spaces go last."""
    body = line.rstrip()
    pieces: list[tuple[str, str]] = []
    start = 0
    for match in _SENTENCE_END.finditer(body):
        sentence = body[start : match.end(1)]
        if _ends_sentence(sentence, match.group(1), match.group(2), body[match.end() :]):
            pieces.append((sentence, match.group(2)))
            start = match.end()
    if start < len(body):
        pieces.append((body[start:], ""))
    if line[len(body) :]:
        last, sep = pieces.pop()
        pieces.append((last, sep + line[len(body) :]))
    return pieces


def _cut_long(sentence: str, separator: str, max_chars: int) -> list[tuple[str, str]]:
    """A sentence longer than max_chars cut at whitespace (or hard, without any) into parts."""
    pieces: list[tuple[str, str]] = []
    while len(sentence) > max_chars:
        cut = max((m.start() for m in re.finditer(r"\s+", sentence[: max_chars + 1])), default=0)
        if cut == 0:
            pieces.append((sentence[:max_chars], ""))
            sentence = sentence[max_chars:]
            continue
        space = re.match(r"\s+", sentence[cut:])
        end = cut + (space.end() if space else 0)
        pieces.append((sentence[:cut], sentence[cut:end]))
        sentence = sentence[end:]
    pieces.append((sentence, separator))
    return pieces


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[tuple[str, str]]:
    """[(sentence, separator_after_it)] with "".join(s + sep) == text.

    Every line break ends a sentence (blank lines and indentation stay in the separator);
    leading whitespace comes back as ("", whitespace); sentences over max_chars are cut.
    """
    pieces: list[tuple[str, str]] = []
    lead = len(text) - len(text.lstrip())
    if lead:
        pieces.append(("", text[:lead]))
    parts = _LINE_BREAK.split(text[lead:])
    separators = parts[1::2] + [""]
    for line, separator in zip(parts[0::2], separators, strict=True):
        if not line:
            continue
        sentences = _split_line(line)
        last, sep = sentences.pop()
        sentences.append((last, sep + separator))
        for sentence, sep in sentences:
            pieces.extend(_cut_long(sentence, sep, max_chars))
    return pieces
