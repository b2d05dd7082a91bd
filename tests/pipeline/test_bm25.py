"""The project's one BM25: a saved index is loaded, not rebuilt, when the same corpus is indexed again."""

from __future__ import annotations

from pipeline.mining.bm25 import Bm25Index, LanguageTokenizer
from tests.pipeline.run_folders import ITALIAN_PASSAGES


class CountingTokenizer(LanguageTokenizer):
    def __init__(self, *args):
        super().__init__(*args)
        self.tokenized = 0

    def many(self, texts):
        self.tokenized += len(texts)
        return super().many(texts)


def test_the_same_corpus_is_tokenized_once(tmp_path):
    tokenizer = CountingTokenizer("it", ["il", "la", "di"])
    built = Bm25Index(ITALIAN_PASSAGES, tokenizer, tmp_path / "bm25")
    assert tokenizer.tokenized == len(ITALIAN_PASSAGES)
    loaded = Bm25Index(ITALIAN_PASSAGES, tokenizer, tmp_path / "bm25")
    assert tokenizer.tokenized == len(ITALIAN_PASSAGES)  # loaded from disk
    queries = ["vulcano Etna Sicilia", "Codice Atlantico Leonardo", "acqua alta piazza San Marco"]
    assert built.top_many(queries, 3) == loaded.top_many(queries, 3)
    assert [hits[0][0] for hits in loaded.top_many(queries, 1)] == [6, 7, 5]
    assert not list((tmp_path / "bm25").glob("*.tmp"))


def test_another_corpus_or_tokenizer_builds_its_own_index(tmp_path):
    tokenizer = CountingTokenizer("it", ["il"])
    Bm25Index(ITALIAN_PASSAGES, tokenizer, tmp_path)
    Bm25Index(ITALIAN_PASSAGES[:-1], tokenizer, tmp_path)
    Bm25Index(ITALIAN_PASSAGES, CountingTokenizer("it", ["il", "la"]), tmp_path)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 3
    assert tokenizer.tokenized == 2 * len(ITALIAN_PASSAGES) - 1


def test_ids_tokenized_in_batches_score_as_bm25s_own_token_path():
    import bm25s

    from pipeline.mining.bm25 import token_ids

    tokenizer = LanguageTokenizer("it", ["il", "la", "di"])
    passages = [*ITALIAN_PASSAGES, "il la di"]  # an all-stop-word passage keeps its row
    ids, vocab = token_ids(passages, tokenizer, batch=3)
    assert len(ids) == len(passages) and all(len(row) for row in ids)
    ours = Bm25Index(passages, tokenizer)
    theirs = bm25s.BM25()
    theirs.index([t or ["\x00empty"] for t in tokenizer.many(passages)], show_progress=False)
    queries = ["vulcano Etna Sicilia", "Codice Atlantico Leonardo", "acqua alta piazza San Marco", "Venezia"]
    hits = ours.top_many(queries, 5)
    ours.index = theirs
    assert hits == ours.top_many(queries, 5)
