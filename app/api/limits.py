"""Request limits that depend on settings: each violation is a 400 naming the field and limit."""

from app.config import Settings
from app.errors import BadInput


def check_count(field: str, count: int, limit: int) -> None:
    if count > limit:
        raise BadInput(f"{field}: {count} items is over the limit of {limit}")


def check_k(k: int, settings: Settings) -> None:
    if k > settings.max_k:
        raise BadInput(f"k: {k} is over the limit of {settings.max_k}")


def check_texts(field: str, texts: list[str], settings: Settings) -> None:
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise BadInput(
                f"{field}.{i}: {len(text)} characters is over the limit of "
                f"{settings.max_text_chars}"
            )
