"""Translation."""

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.schemas.common import NON_BLANK, NonBlankText, StrictModel, exactly_one_of


class TranslateRequest(StrictModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one_of("text", "texts"))

    text: str | None = Field(
        None, description="One text. Give text or texts.", json_schema_extra=NON_BLANK
    )
    texts: list[NonBlankText] | None = Field(None, min_length=1, description="Several texts.")
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
