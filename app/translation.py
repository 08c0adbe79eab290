"""Translation as the rest of the service uses it: an unsupported pair is bad input."""

from app.errors import BadInput
from app.models.seq2seq import Translator, UnsupportedLanguage


def translate_texts(
    translator: Translator, texts: list[str], source: str, target: str
) -> list[str]:
    """Translate, turning an unsupported pair into a 400 that lists the supported ones."""
    try:
        return translator.translate(texts, source, target)
    except UnsupportedLanguage as exc:
        pairs = ", ".join(f"{s}->{t}" for s, t in exc.pairs)
        raise BadInput(
            f"source, target: {source}->{target} is not supported by {translator.name}; "
            f"supported: {pairs}"
        ) from exc
