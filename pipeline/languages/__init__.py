"""Language files: everything language-specific (LID label, FineWeb-2 thresholds, stop words, prompts).

Example:
    >>> from pipeline.languages import load_language
    >>> lang = load_language("ita_Latn")
    >>> lang.lid["ft176"].label
    'it'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field, field_validator

from pipeline.errors import ConfigError
from retrieval.config import StrictModel, read_yaml_mapping, validate_config

LANGUAGES_DIR = Path(__file__).parent


class LidSpec(StrictModel):
    label: str
    threshold: float = Field(ge=0, le=1)


class QualitySpec(StrictModel):
    dup_line_frac: float
    dup_n_grams: list[tuple[int, float]]
    top_n_grams: list[tuple[int, float]]
    line_punct_thr: float
    new_line_ratio: float
    max_avg_word_length: float
    min_avg_word_length: float
    max_non_alpha_words_ratio: float
    min_stop_words: int = 2
    stopwords: list[str]


class JudgePromptSpec(StrictModel):
    """Yes/no prompt for mine's optional LLM judge (does a mined negative answer the query?); Italian default."""

    system: str = "Sei un valutatore di pertinenza per un motore di ricerca. Rispondi solo con \"sì\" o \"no\"."
    user: str = ('Query: {query}\n\nPassaggio:\n"""\n{passage}\n"""\n\nIl passaggio risponde alla query, cioè '
                 "contiene l'informazione cercata? Rispondi solo sì o no.")
    yes: list[str] = Field(default_factory=lambda: ["sì", "si", "yes"])
    no: list[str] = Field(default_factory=lambda: ["no"])


class DemoQuery(StrictModel):
    query: str
    answer: str


class DemoSpec(StrictModel):
    """A worked example shown to the model as an earlier turn: a passage and, per style, good queries with their
    evidence. Small models follow a demonstration far better than a description; any fact they copy from it into
    a real query is caught by the grounding filter (the demo's names are not in the real passage)."""

    passage: str
    queries: dict[str, list[DemoQuery]]


class PromptSpec(StrictModel):
    system: str
    user: str
    styles: dict[str, str]
    example: str | None = None  # the reply shape shown to the model; None: built from the requested styles
    refusals: list[str] = Field(default_factory=list)
    demo: DemoSpec | None = None
    judge: JudgePromptSpec = Field(default_factory=JudgePromptSpec)


class LanguageSpec(StrictModel):
    code: str
    name: str
    iso_639_1: str
    spacy: str
    datatrove_language: str
    lid: dict[str, LidSpec]
    quality: QualitySpec
    stop_words: list[str]
    prompts: PromptSpec

    @field_validator("spacy")
    @classmethod
    def _spacy_language(cls, code: str) -> str:
        """A language spaCy ships (``spacy.blank(code)`` splits sentences and tokenizes BM25 text), checked here
        rather than when the passages stage starts, after ingest."""
        if not spacy_has_language(code):
            raise ValueError(f"spaCy has no language {code!r}. Fix: use the ISO 639-1 code spaCy lists under "
                             "spacy/lang/ (e.g. it, es, pl), or 'xx' for its multi-language tokenizer")
        return code


def spacy_has_language(code: str) -> bool:
    """Whether ``spacy.blank(code)`` works: a folder under spacy/lang/ (found without importing spaCy), else a
    language registered by a plugin.

    Example::

        >>> spacy_has_language("it"), spacy_has_language("zz")
        (True, False)
    """
    spec = importlib.util.find_spec("spacy")
    if spec is None:
        return True  # not installed: the stage that needs it says so
    if code.isidentifier() and any((Path(root) / "lang" / code / "__init__.py").is_file()
                                   for root in spec.submodule_search_locations or ()):
        return True
    from spacy.util import get_lang_class

    try:
        get_lang_class(code)
    except (ImportError, ValueError):  # ValueError: not a module name at all (e.g. "")
        return False
    return True


def available_languages() -> list[str]:
    return sorted(p.stem for p in LANGUAGES_DIR.glob("*.yaml"))


def load_language(name_or_path: str) -> LanguageSpec:
    """Load a bundled language by code (``ita_Latn``) or any language YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = LANGUAGES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown language '{name_or_path}': bundled ones are {', '.join(available_languages())}. "
            "Use one of them or give the path of a language YAML (copy pipeline/languages/ita_Latn.yaml)."
        )
    fix = "correct it, starting from a copy of pipeline/languages/ita_Latn.yaml."
    data = read_yaml_mapping(path, fix, what="language file", error=ConfigError)
    return validate_config(LanguageSpec, data, f"language file {path}", error=ConfigError)
