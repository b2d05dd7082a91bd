"""The project's one BM25: a saved index is loaded, not rebuilt, when the same corpus is indexed again."""

from __future__ import annotations

import numpy as np

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


def _dense_scores(index, query):
    """bm25s's own dense scoring of one query over every passage: the reference the sparse scorer must match."""
    tokens = index.tokenize(query)
    ids = [index.vocab[t] for t in tokens if t in index.vocab]
    return index.index.get_scores_from_ids(ids) if ids else np.zeros(index.size, dtype=np.float32)


QUERIES = ["vulcano Etna Sicilia", "Codice Atlantico Leonardo", "acqua alta piazza San Marco", "Venezia Venezia",
           "parola che nessun passaggio contiene", "", "il la di", "Leonardo da Vinci e il Codice", "Etna"]


def test_sparse_scores_match_bm25s_dense_scores_in_small_chunks():
    passages = [*ITALIAN_PASSAGES, ITALIAN_PASSAGES[0]]  # a duplicate passage: an exact tie
    index = Bm25Index(passages, LanguageTokenizer("it", ["il", "la", "di"]))
    for batch, max_postings in [(4096, 20_000_000), (2, 3), (1, 1)]:
        rows = [r for s in index._score_batches(QUERIES, batch=batch, max_postings=max_postings)
                for r in s.toarray()]
        assert len(rows) == len(QUERIES)
        for query, row in zip(QUERIES, rows):
            np.testing.assert_allclose(row, _dense_scores(index, query), rtol=1e-6)


def test_positive_ranks_count_ties_against_the_positive_and_stop_at_depth():
    passages = [*ITALIAN_PASSAGES, ITALIAN_PASSAGES[6]]  # passage 6 twice: its queries tie
    index = Bm25Index(passages, LanguageTokenizer("it", ["il", "la", "di"]))
    rng = np.random.default_rng(0)
    positives = rng.integers(0, len(passages), size=len(QUERIES))
    positives[0] = 6
    for depth in (1, 3, 100):
        expected = []
        for query, positive in zip(QUERIES, positives):
            scores = _dense_scores(index, query)
            rank = int((scores >= scores[positive]).sum())
            expected.append(rank if scores[positive] > 0 and rank <= depth else depth + 1)
        assert index.positive_ranks(QUERIES, positives, depth).tolist() == expected
    assert index.positive_ranks(QUERIES[:1], positives[:1], 5).tolist() == [2]  # the duplicate ties with it


def test_top_many_orders_by_score_then_passage_and_drops_zero_scores():
    passages = [*ITALIAN_PASSAGES, ITALIAN_PASSAGES[7]]
    index = Bm25Index(passages, LanguageTokenizer("it", ["il", "la", "di"]))
    for k in (1, 2, 5, 50):
        for query, hits in zip(QUERIES, index.top_many(QUERIES, k)):
            scores = _dense_scores(index, query)
            order = [int(i) for i in np.lexsort((np.arange(len(scores)), -scores)) if scores[i] > 0][:k]
            assert [doc for doc, _ in hits] == order
            np.testing.assert_allclose([s for _, s in hits], scores[order], rtol=1e-6)
    (first, first_score), (second, second_score) = index.top("Codice Atlantico", 2)
    assert (first, second) == (7, len(passages) - 1) and first_score == second_score  # the tie, by passage index
    assert index.top_many(QUERIES, 0) == [[] for _ in QUERIES]
