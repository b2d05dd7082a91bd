"""spaCy's word tokens, computed once per whitespace-separated chunk instead of once per text.

spaCy's tokenizer splits a text on spaces first and then tokenizes each chunk on its own (prefixes, suffixes,
infixes, special cases; its own cache is keyed by chunk). A text's tokens are therefore the concatenation of its
chunks' tokens, and a chunk seen before needs no spaCy call at all. What makes spaCy slow on millions of passages is
not the chunk rules but building a ``Doc`` per text (and, in datatrove's word tokenizer, running the sentencizer over
it): ~4 ms per passage, the largest cost of the split's MinHash signatures and of BM25 indexing at scale.

Written here because neither datatrove nor spaCy offers a chunk-level cache. It applies only to spaCy languages that
split on whitespace (not Chinese, Japanese, Thai or Vietnamese, whose segmenters see across spaces) and only when the
language has no special case containing a space (checked). ``tests/pipeline/test_chunk_tokens.py`` compares it with
spaCy on real Italian passages.

Example:
    >>> from datatrove.utils.word_tokenizers import load_word_tokenizer
    >>> spacy_words = load_word_tokenizer("ita_Latn")
    >>> fast = chunked_word_tokenizer(spacy_words)
    >>> text = "l'acqua ha invaso 3km di campi, dice il sindaco."
    >>> fast.word_tokenize(text) == spacy_words.word_tokenize(text)
    True
"""

from __future__ import annotations

from collections.abc import Callable

# languages whose spaCy tokenizer segments text without relying on whitespace
SEGMENTED_LANGUAGES = {"zh", "ja", "th", "vi", "ko", "my", "lo", "km", "bo"}


class ChunkCache:
    """A text's tokens as the concatenation of its space-separated chunks' tokens, each chunk's tokens memoized.

    ``tokens_of_many(chunks) -> [tokens per chunk]`` is called once per text, on the chunks not seen yet. The cache is
    cleared when it reaches ``max_chunks`` (bounded memory: at a million passages the distinct chunks number in the
    millions)."""

    def __init__(self, tokens_of_many: Callable[[list[str]], list[list[str]]], max_chunks: int = 1_000_000):
        self.tokens_of_many, self.max_chunks = tokens_of_many, max_chunks
        self.cache: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        chunks = [c for c in text.split(" ") if c]  # spaCy splits on the space character only ("\n" stays in chunks)
        cache = self.cache
        missing = list(dict.fromkeys(c for c in chunks if c not in cache))
        if missing:
            if len(cache) + len(missing) > self.max_chunks:
                cache.clear()
            cache.update(zip(missing, self.tokens_of_many(missing)))
        out: list[str] = []
        for chunk in chunks:
            out.extend(cache[chunk])
        return out


class SpacyChunkTokens:
    """``tokens_of_many`` for a spaCy pipeline's tokenizer: the chunks tokenized in one call (joined by single spaces,
    each chunk's tokens ending at a token followed by a space). ``keep`` picks and rewrites a token (here: its text
    stripped, whitespace tokens left out, as datatrove's word tokenizer does); subclasses change it. A class, not a
    closure, so that a tokenizer holding it can be sent to a worker process."""

    def __init__(self, nlp):
        self.nlp = nlp

    def keep(self, token) -> str | None:
        return token.text.strip() or None

    def __call__(self, chunks: list[str]) -> list[list[str]]:
        out, current = [], []
        with self.nlp.memory_zone():  # the token strings are copied out; spaCy's string store does not grow
            for token in self.nlp.tokenizer(" ".join(chunks)):
                if (kept := self.keep(token)) is not None:
                    current.append(kept)
                if token.whitespace_:
                    out.append(current)
                    current = []
        out.append(current)
        if len(out) != len(chunks):  # not expected (a chunk is never split on a space); stay exact regardless
            return [self([chunk])[0] for chunk in chunks] if len(chunks) > 1 else [sum(out, [])]
        return out


class ChunkedWordTokenizer:
    """datatrove's spaCy word tokenizer with the same ``word_tokenize`` output, one spaCy call per text for the chunks
    it has not seen yet."""

    def __init__(self, inner):
        self.inner = inner
        self.language = inner.language
        self.word_tokenize = ChunkCache(SpacyChunkTokens(inner.tokenizer))

    def sent_tokenize(self, text: str) -> list[str]:
        return self.inner.sent_tokenize(text)

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return self.inner.span_tokenize(text)


def splits_on_whitespace(nlp) -> bool:
    """True when ``nlp``'s tokenizer tokenizes whitespace-separated chunks independently."""
    if nlp.lang in SEGMENTED_LANGUAGES or type(nlp.tokenizer).__name__ != "Tokenizer":
        return False
    # a special case made of whitespace alone (" ", "\n") is a chunk of its own; one that holds a space beside other
    # characters would join chunks
    return not any(key.strip() and " " in key for key in nlp.tokenizer.rules)


def chunked_word_tokenizer(word_tokenizer):
    """``word_tokenizer`` (from datatrove's ``load_word_tokenizer``) made chunk-cached when that gives the same
    tokens (a plain spaCy tokenizer for a whitespace-separated language); otherwise ``word_tokenizer`` itself."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    if type(word_tokenizer) is not SpaCyTokenizer or word_tokenizer.config is not None:
        return word_tokenizer
    if not splits_on_whitespace(word_tokenizer.tokenizer):
        return word_tokenizer
    return ChunkedWordTokenizer(word_tokenizer)
