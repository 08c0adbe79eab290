"""Translation as the rest of the service uses it: an unsupported pair is bad input, or a
conflict where the collection's language chose the target."""

from app.errors import BadInput, Conflict
from app.models.seq2seq import Translator, UnsupportedLanguage


def translate_texts(
    translator: Translator,
    texts: list[str],
    source: str,
    target: str,
    collection: str | None = None,
) -> list[str]:
    """Translate. An unsupported pair is a 400 that lists the supported ones; where the target
    is the language of `collection` (queries translated for its search) it is a 409: the request
    is well formed, and the collection's stored language is what rules it out."""
    try:
        return translator.translate(texts, source, target)
    except UnsupportedLanguage as exc:
        pairs = ", ".join(f"{s}->{t}" for s, t in exc.pairs)
        if collection is None:
            raise BadInput(
                f"source, target: {source}->{target} is not supported by {translator.name}; "
                f"supported: {pairs}"
            ) from exc
        raise Conflict(
            f"query_language: collection {collection!r} is in {target!r}, and "
            f"{translator.name} cannot translate {source}->{target}; supported: {pairs}"
        ) from exc
