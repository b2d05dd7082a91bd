"""Cut documents into retrieval passages at sentence boundaries, bounded in tokens of the target embedder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from pipeline.errors import ConfigError


def passage_id(doc_id: str, position: int) -> str:
    """Stable id: the same document and position always give the same id, across runs and machines."""
    return hashlib.sha1(f"{doc_id}#{position}".encode()).hexdigest()[:16]


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds; all mean "cannot load"
        raise ConfigError(
            f"cannot load tokenizer '{name_or_path}' ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
            "Set passages.tokenizer to a Hub id you can reach or to a local model folder "
            "(offline: ../shared/tools/get-e5-small prints one)."
        ) from None


@dataclass
class _Unit:
    text: str
    tokens: int
    paragraph: int


class PassageSplitter(PipelineStep):
    """Split each document into passages of ``min_tokens``..``max_tokens`` tokens, sentence-aware.

    Sentences (spaCy's rule-based sentencizer for the language, no model download) are packed greedily into
    passages; a paragraph break is kept as a newline; a single sentence longer than ``max_tokens`` is cut at word
    boundaries. A trailing piece shorter than ``min_tokens`` is merged into the previous passage when it fits,
    else dropped (counted as ``dropped_too_short``). Each passage is a Document with metadata ``doc_id``,
    ``url``, ``position`` (0-based within its document) and ``n_tokens``.

    Example::

        splitter = PassageSplitter("intfloat/multilingual-e5-small", spacy_lang="it", max_tokens=256)
    """

    name = "✂️ Passages"
    type = "✂️ - SPLITTER"

    def __init__(self, tokenizer: str, spacy_lang: str, max_tokens: int = 256, min_tokens: int = 32,
                 group_key: str | None = None):
        super().__init__()
        self.group_key = group_key
        self.tokenizer_name = tokenizer
        self.spacy_lang = spacy_lang
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self._tokenizer = None
        self._nlp = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_name)
        return self._tokenizer

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy

            self._nlp = spacy.blank(self.spacy_lang)
            self._nlp.add_pipe("sentencizer")
            self._nlp.max_length = 5_000_000
        return self._nlp

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _units(self, text: str) -> list[_Unit]:
        sentences: list[tuple[str, int]] = []
        for pi, paragraph in enumerate(p.strip() for p in text.split("\n")):
            if paragraph:
                sentences += [(s.text.strip(), pi) for s in self.nlp(paragraph).sents if s.text.strip()]
        counts = self.count_tokens([s for s, _ in sentences])
        units = []
        for (sentence, pi), n in zip(sentences, counts):
            if n <= self.max_tokens:
                units.append(_Unit(sentence, n, pi))
            else:
                units += [_Unit(piece, c, pi) for piece, c in self._cut_long(sentence)]
        return units

    def _cut_long(self, sentence: str) -> list[tuple[str, int]]:
        """Cut an over-long sentence at word boundaries into pieces of at most max_tokens."""
        words, pieces, start = sentence.split(), [], 0
        while start < len(words):
            lo, hi = start + 1, len(words)
            while lo < hi:  # largest end with tokens(words[start:end]) <= max_tokens
                mid = (lo + hi + 1) // 2
                if self.count_tokens([" ".join(words[start:mid])])[0] <= self.max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            piece = " ".join(words[start:lo])
            pieces.append((piece, self.count_tokens([piece])[0]))
            start = lo
        return pieces

    def split(self, text: str) -> list[tuple[str, int]]:
        """Return [(passage_text, n_tokens)] for one document's text."""
        chunks: list[list[_Unit]] = [[]]
        for unit in self._units(text):
            current = chunks[-1]
            # +1 per joint: a space or newline between sentences may add a token
            if current and sum(u.tokens for u in current) + unit.tokens + len(current) > self.max_tokens:
                chunks.append([])
            chunks[-1].append(unit)
        passages = [self._join(c) for c in chunks if c]
        texts = [p for p in passages]
        counts = self.count_tokens(texts)
        out = list(zip(texts, counts))
        if len(out) > 1 and out[-1][1] < self.min_tokens:
            merged = self._join(chunks[-2] + chunks[-1])
            merged_n = self.count_tokens([merged])[0]
            if merged_n <= self.max_tokens:
                out[-2:] = [(merged, merged_n)]
        return out

    @staticmethod
    def _join(units: list[_Unit]) -> str:
        text = ""
        for i, unit in enumerate(units):
            if i:
                text += "\n" if unit.paragraph != units[i - 1].paragraph else " "
            text += unit.text
        return text

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("documents")
            with self.track_time():
                pieces = self.split(doc.text)
            position = 0
            source = doc.id
            if self.group_key:
                group = doc.metadata.get(self.group_key)
                if group in (None, ""):
                    self.stat_update("group_key_missing")
                else:
                    source = str(group)
            for text, n_tokens in pieces:
                if n_tokens < self.min_tokens:
                    self.stat_update("dropped_too_short")
                    continue
                self.stat_update("passages")
                yield Document(
                    text=text,
                    id=passage_id(doc.id, position),
                    metadata={"doc_id": source, "url": doc.metadata.get("url") or "", "position": position,
                              "n_tokens": n_tokens},
                )
                position += 1
