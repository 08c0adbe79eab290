"""Translation."""

from pydantic import BaseModel, Field, model_validator

from app.api.schemas.common import StrictModel


class TranslateRequest(StrictModel):
    text: str | None = Field(None, description="One text. Give text or texts.")
    texts: list[str] | None = Field(None, min_length=1, description="Several texts.")
    source: str = Field(min_length=2, max_length=16, description="Source language code, e.g. en.")
    target: str = Field(min_length=2, max_length=16, description="Target language code, e.g. pt.")

    @model_validator(mode="after")
    def _one_input(self) -> "TranslateRequest":
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of text, texts")
        return self


class TranslateResponse(BaseModel):
    translations: list[str] = Field(description="One translation per input text, in order.")
    model: str = Field(description="Translator name.")


class LanguagePair(BaseModel):
    source: str = Field(description="Source language code.")
    target: str = Field(description="Target language code.")


class LanguagesResponse(BaseModel):
    model: str = Field(description="Translator name.")
    pairs: list[LanguagePair] = Field(description="Supported translation directions.")
