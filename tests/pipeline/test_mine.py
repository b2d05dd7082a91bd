"""mine stage: dense + BM25 negatives, the positive-aware guard, the same-document rule, cache, judge, bad input.

The tiny random model scores every text pair between ~0.85 and ~0.97, so the main run uses relative_margin 0.01
(a 5% margin would drop nearly everything): the guard's arithmetic is the same at any margin.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyarrow.parquet as pq
import pytest
from sentence_transformers import SentenceTransformer

from pipeline.errors import ConfigError, InputDataError, StageError
from pipeline.mining.bm25 import LanguageTokenizer
from pipeline.mining.judge import LLMJudge
from pipeline.mining.miner import Miner
from pipeline.mining.select import Negative, choose, interleave, threshold
from pipeline.run_folder import SUCCESS
from pipeline.stages.mine import MineStage
from tests.pipeline.tiny_st import NEAR_COPY_ID, NEAR_COPY_OF, fixture_passages, make_run_config, write_filter_run

MARGIN = 0.01


@pytest.fixture(scope="module")
def mined(tmp_path_factory, tiny_model_dir):
    config = make_run_config(tmp_path_factory.mktemp("mine"), tiny_model_dir, mine={"relative_margin": MARGIN})
    write_filter_run(config.run_dir)
    stats = MineStage(config).run()
    rows = pq.read_table(config.run_dir / "mine" / "triplets.parquet").to_pylist()
    return config, stats, rows


def test_output_schema_and_counts(mined):
    config, stats, rows = mined
    table = pq.read_table(config.run_dir / "mine" / "triplets.parquet")
    assert table.column_names == ["query_id", "query", "passage_id", "positive", "doc_id", "style", "negatives",
                                  "positive_score"]
    assert [f.name for f in table.schema.field("negatives").type.value_type] == [
        "passage_id", "doc_id", "text", "score", "source"]
    assert stats["queries_in"] == len(rows) == 60
    assert stats["negatives"] == sum(len(r["negatives"]) for r in rows) > 0
    assert all(len(r["negatives"]) <= 3 + 2 for r in rows)  # num_negatives + spare_negatives
    assert {n["source"] for r in rows for n in r["negatives"]} == {"dense", "bm25"}
    assert stats["dropped"]["guard_dense"] > 0 and stats["dropped"]["guard_bm25"] > 0
    assert sum(stats["score_histograms"]["positive"]) == len(rows)


def test_every_negative_scores_at_most_the_guard_threshold(mined):
    _, _, rows = mined
    checked = 0
    for row in rows:
        for negative in row["negatives"]:
            assert negative["score"] <= (1 - MARGIN) * row["positive_score"] + 1e-6, (row["query"], negative)
            checked += 1
    assert checked > 20


def test_planted_false_negative_is_dropped(mined, tiny_model_dir):
    config, _, rows = mined
    copy_text = next(p["text"] for p in fixture_passages() if p["passage_id"] == NEAR_COPY_ID)
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    about_positive = [r for r in rows if r["passage_id"] == NEAR_COPY_OF]
    assert about_positive
    for row in about_positive:
        q, copy = model.encode([config.mine.query_prompt + row["query"], config.mine.corpus_prompt + copy_text],
                               normalize_embeddings=True)
        # the near-copy would be a top candidate: it scores above the guard's threshold ...
        assert float(q @ copy) > threshold(row["positive_score"], MARGIN)
        # ... so the guard must have removed it
        assert NEAR_COPY_ID not in {n["passage_id"] for n in row["negatives"]}


def test_negatives_come_from_other_documents(mined):
    _, stats, rows = mined
    assert all(n["doc_id"] != r["doc_id"] for r in rows for n in r["negatives"])
    assert all(n["passage_id"] != r["passage_id"] for r in rows for n in r["negatives"])
    assert stats["dropped"]["same_document"] > 0  # the 3-passage documents put neighbours among the candidates


def test_rerun_reuses_cached_embeddings(mined):
    config, _, _ = mined
    folders = list((config.run_dir / "mine" / "embeddings").iterdir())
    assert len(folders) == 1
    # one query file and one corpus file: mine_hard_negatives found ours instead of writing its own
    assert sorted(p.name.split("_")[0] for p in folders[0].glob("*.npy")) == ["corpus", "query"]
    (config.run_dir / "mine" / SUCCESS).unlink()
    stats = MineStage(config).run()
    assert stats["embeddings_reused"] == ["corpus", "query"]
    assert len(list(folders[0].glob("*.npy"))) == 2


def test_bm25_only_obeys_the_guard(tmp_path, tiny_model_dir):
    config = make_run_config(tmp_path, tiny_model_dir, mine={"method": "bm25", "relative_margin": MARGIN})
    write_filter_run(config.run_dir)
    stats = MineStage(config).run()
    rows = pq.read_table(config.run_dir / "mine" / "triplets.parquet").to_pylist()
    assert stats["negatives_by_source"]["dense"] == 0 and stats["negatives_by_source"]["bm25"] > 0
    assert all(n["score"] <= (1 - MARGIN) * r["positive_score"] + 1e-6 for r in rows for n in r["negatives"])


def test_batched_bm25_search_mines_what_a_search_per_query_mines(tmp_path, tiny_model_dir, monkeypatch):
    windows = {}
    original = Miner._bm25

    def recording(self, query):
        windows.setdefault(self.bm25_hits is None, {})[query] = [n.index for n in original(self, query)]
        return original(self, query)

    def mine(folder):
        config = make_run_config(folder, tiny_model_dir, mine={"method": "bm25", "relative_margin": MARGIN,
                                                               "range_min": 1, "range_max": 6})
        write_filter_run(config.run_dir)
        MineStage(config).run()
        return pq.read_table(config.run_dir / "mine" / "triplets.parquet").to_pylist()

    monkeypatch.setattr(Miner, "_bm25", recording)
    batched = mine(tmp_path / "batched")
    monkeypatch.setattr(Miner, "prefetch_bm25", lambda self, queries: None)
    per_query = mine(tmp_path / "per_query")
    assert batched == per_query
    assert windows[False] == windows[True] and any(len(w) == 5 for w in windows[True].values())
    assert sum(len(r["negatives"]) for r in batched) > 0


def test_llm_judge_drops_negatives_that_answer(tmp_path, tiny_model_dir, monkeypatch):
    rejected: dict[str, str] = {}  # query -> the passage the judge said answers it

    class FakeJudge:
        """Says the first candidate of every query answers it (the tiny model's ranking varies between builds)."""

        def answers(self, query: str, passage: str) -> bool | None:
            return rejected.setdefault(query, passage) == passage

    @contextmanager
    def fake_open_judge(config, language, stage_dir):
        yield FakeJudge()

    monkeypatch.setattr("pipeline.mining.judge.open_judge", fake_open_judge)
    # range_max 50 > 49 passages: FAISS pads the search with -1, which must not become a candidate
    config = make_run_config(tmp_path, tiny_model_dir, mine={"relative_margin": MARGIN, "llm_judge": True,
                                                             "range_max": 50})
    write_filter_run(config.run_dir)
    stats = MineStage(config).run()
    rows = pq.read_table(config.run_dir / "mine" / "triplets.parquet").to_pylist()
    assert stats["dropped"]["judge"] == len(rejected) > 0
    assert all(n["text"] != rejected.get(r["query"]) for r in rows for n in r["negatives"])


def test_llm_judge_asks_once_and_caches(tmp_path):
    calls = []

    class Reply:
        def __init__(self, text):
            self.choices = [type("C", (), {"message": type("M", (), {"content": text})()})()]

    class Client:
        class chat:  # noqa: N801 - mimics openai.OpenAI().chat.completions.create
            class completions:  # noqa: N801
                @staticmethod
                def create(**kwargs):
                    calls.append(kwargs)
                    return Reply("Sì." if "Modena" in kwargs["messages"][1]["content"] else "No")

    from pipeline.languages import load_language

    prompt = load_language("ita_Latn").prompts.judge
    judge = LLMJudge(Client(), "tiny-llm", prompt, tmp_path / "judge_cache.jsonl")
    assert judge.answers("alluvione", "Il Secchia ha allagato Modena") is True
    assert judge.answers("alluvione", "La partita è finita") is False
    again = LLMJudge(Client(), "tiny-llm", prompt, tmp_path / "judge_cache.jsonl")
    assert again.answers("alluvione", "Il Secchia ha allagato Modena") is True
    assert len(calls) == 2 and calls[0]["temperature"] == 0


def test_selection_helpers():
    dense = [Negative(1, 0.7, "dense"), Negative(2, 0.6, "dense")]
    bm25 = [Negative(2, 0.6, "bm25"), Negative(3, 0.5, "bm25")]
    assert [(n.index, n.source) for n in interleave(dense, bm25)] == [(1, "dense"), (2, "bm25"), (3, "bm25")]
    assert threshold(0.8, 0.05) == pytest.approx(0.76)
    choice = choose(interleave(dense, bm25), 2, answers=lambda i: i == 1, extra=1)
    assert [n.index for n in choice.negatives] == [2, 3] and choice.judge_dropped == 1


def test_bm25_tokenizer_lowercases_and_drops_stop_words():
    tokenize = LanguageTokenizer("it", ["il", "di", "l"])
    assert tokenize("L'acqua del fiume, il Secchia di Modena!") == ["acqua", "del", "fiume", "secchia", "modena"]


def test_empty_upstream_is_a_clear_error(tmp_path, tiny_model_dir):
    config = make_run_config(tmp_path, tiny_model_dir)
    write_filter_run(config.run_dir, queries=[])
    with pytest.raises(StageError, match="filter.*kept no rows"):
        MineStage(config).run()


def test_missing_column_names_it(tmp_path, tiny_model_dir):
    config = make_run_config(tmp_path, tiny_model_dir)
    write_filter_run(config.run_dir)
    table = pq.read_table(config.run_dir / "filter" / "passages.parquet").drop(["doc_id"])
    pq.write_table(table, config.run_dir / "filter" / "passages.parquet")
    with pytest.raises(InputDataError, match=r"lacks the column\(s\) \['doc_id'\]"):
        MineStage(config).run()


def test_unloadable_model_and_bad_window(tmp_path):
    config = make_run_config(tmp_path, tmp_path / "no-such-model")
    write_filter_run(config.run_dir)
    with pytest.raises(ConfigError, match="mine.model"):
        MineStage(config).run()
    with pytest.raises(ConfigError, match="range_min"):
        make_run_config(tmp_path, "m", mine={"range_min": 30, "range_max": 20})
    assert np.isclose(threshold(-0.2, 0.05), -0.21)  # negative positives: the margin still lowers the bar


def test_corpus_embeddings_are_reused_from_the_filter_stage(tmp_path, tiny_model_dir):
    from pipeline.mining.embedding_store import EmbeddingStore

    config = make_run_config(tmp_path, tiny_model_dir, mine={"relative_margin": MARGIN})
    write_filter_run(config.run_dir)
    passages = pq.read_table(config.run_dir / "filter" / "passages.parquet").to_pylist()
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    # what the filter stage's round-trip judges leave in the run's store (same model, same prompt)
    store = EmbeddingStore(config.run_dir / "embeddings", str(tiny_model_dir), "passage: ")
    expected = store.embed(model, [p["text"] for p in passages])
    calls = []
    real = SentenceTransformer.encode
    SentenceTransformer.encode = lambda self, texts, **kw: calls.append(len(texts)) or real(self, texts, **kw)
    try:
        stats = MineStage(config).run()
    finally:
        SentenceTransformer.encode = real
    assert stats["embeddings_reused"] == ["corpus (from the run's embedding store)",
                                          "query (from the run's embedding store)"]
    assert sum(calls) == len({r["query"] for r in pq.read_table(config.run_dir / "filter" / "queries.parquet")
                              .to_pylist()})  # only the queries were encoded: no passage twice
    folder = next((config.run_dir / "mine" / "embeddings").iterdir())
    corpus = np.load(next(folder.glob("corpus_*.npy")))
    text_row = {p["text"]: i for i, p in enumerate(passages)}
    order = [text_row[t] for t in dict.fromkeys(p["text"] for p in passages)]
    np.testing.assert_allclose(corpus, expected[order], atol=1e-6)
