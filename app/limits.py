"""Request limits that depend on settings: each violation is a 400 naming the field and limit."""

from app.config import Settings
from app.errors import BadInput
from app.models.decoder import Decoder


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


def check_generation(
    prompt_tokens: int, max_new_tokens: int, context_tokens: int, settings: Settings, field: str
) -> None:
    """The prompt and the answer must fit the limits and the model's context window."""
    if max_new_tokens > settings.max_new_tokens:
        raise BadInput(
            f"max_new_tokens: {max_new_tokens} is over the limit of {settings.max_new_tokens}"
        )
    if prompt_tokens > settings.max_prompt_tokens:
        raise BadInput(
            f"{field}: {prompt_tokens} tokens is over the limit of {settings.max_prompt_tokens}"
        )
    if prompt_tokens + max_new_tokens > context_tokens:
        raise BadInput(
            f"{field}: {prompt_tokens} prompt tokens plus max_new_tokens {max_new_tokens} "
            f"is over the model's context of {context_tokens} tokens"
        )


def check_prompt(
    decoder: Decoder, prompt: str, max_new_tokens: int, settings: Settings, field: str
) -> None:
    """The prompt and the answer fit the limits and the decoder's context (400 otherwise)."""
    tokens = decoder.count_tokens(prompt)
    check_generation(tokens, max_new_tokens, decoder.max_context_tokens, settings, field)
