"""The round-trip judge panel (pipeline/filtering/judges.py): BM25 rescues what the dense model misses, every
judge's rank is recorded, ``agree`` decides, and ``eval_eligible`` ignores the base model."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.config import config_from_dict
from pipeline.filtering.judges import Judge, JudgePanel
from pipeline.stages.filter import FilterStage
from tests.pipeline.test_filter import PASSAGES, FakeEmbedder, make_run

QUERIES = [
    ("both", "p0", "Dove nasce il fiume Adige e quanto è lungo?"),
    ("bm25-only", "p2", "Quante navi da crociera arrivano nel porto di Genova?"),  # dense is misled to p1
    ("dense-only", "p1", "quale edificio sacro siciliano mescola stili diversi"),  # no word in common with p1
    ("neither", "p0", "quale edificio sacro siciliano fu restaurato"),  # dense to p1, BM25 finds nothing
]
TARGETS = {QUERIES[0][2]: "p0", QUERIES[1][2]: "p1", QUERIES[2][2]: "p1", QUERIES[3][2]: "p1"}


def run_panel(tmp_path, monkeypatch, **round_trip):
    passages = PASSAGES[:3]
    fake = FakeEmbedder(passages, TARGETS)
    monkeypatch.setattr("retrieval.models.load_embedder", lambda name: fake)
    cfg = make_run(tmp_path, QUERIES, passages=passages, language_check=False,
                   round_trip={"enabled": True, "model": "hand-made", "top_k": 1, "bm25_top_k": 1, **round_trip})
    stats = FilterStage(cfg).run()
    kept = {q["query_id"]: q for q in pq.read_table(cfg.run_dir / "filter" / "queries.parquet").to_pylist()}
    dropped = {d["query_id"]: d for d in pq.read_table(cfg.run_dir / "filter" / "dropped.parquet").to_pylist()}
    return stats, kept, dropped


def test_bm25_keeps_what_the_dense_model_misses(tmp_path, monkeypatch):
    stats, kept, dropped = run_panel(tmp_path, monkeypatch)
    assert set(kept) == {"both", "bm25-only", "dense-only"} and set(dropped) == {"neither"}
    assert (kept["bm25-only"]["rank_base"], kept["bm25-only"]["rank_bm25"]) == (3, 1)
    assert kept["dense-only"]["rank_base"] == 1 and kept["dense-only"]["rank_bm25"] > 1
    assert kept["both"]["positive_rank"] == kept["both"]["rank_base"] == 1
    # eligible for dev/test: kept by the panel without the base model (here: BM25 alone)
    assert {q: kept[q]["eval_eligible"] for q in kept} == {"both": True, "bm25-only": True, "dense-only": False}
    assert dropped["neither"]["reason"] == "round_trip" and "rank_base 3" in dropped["neither"]["detail"]
    assert stats["round_trip"]["eval_eligible"] == 2 and stats["round_trip"]["judges"] == ["base", "bm25"]


def test_panel_stats_count_what_the_base_misses():
    from pipeline.stages.filter import _panel_stats

    kept = [{"rank_base": 1, "rank_bm25": 30, "eval_eligible": False},
            {"rank_base": 12, "rank_bm25": 2, "eval_eligible": True},
            {"rank_base": 40, "rank_bm25": 1, "eval_eligible": True}]
    stats = _panel_stats(kept)
    assert stats["kept_base_outside_top10"] == 2  # what fine-tuning can learn from
    assert stats["kept_in_top10"] == {"base": 1, "bm25": 2} and stats["eval_eligible"] == 2


def test_agree_all_needs_every_judge(tmp_path, monkeypatch):
    _, kept, dropped = run_panel(tmp_path, monkeypatch, agree="all")
    assert set(kept) == {"both"} and set(dropped) == {"bm25-only", "dense-only", "neither"}


def test_panel_verdicts_by_count():
    panel = JudgePanel([Judge("base", 10, None), Judge("bm25", 20, None), Judge("other", 5, None)], agree=2)
    ranks = {"base": np.array([1, 50, 1, 50]), "bm25": np.array([1, 1, 50, 50]), "other": np.array([50, 1, 50, 1])}
    passed, eligible = panel.verdicts(ranks)
    assert passed.tolist() == [True, True, False, False]
    assert eligible.tolist() == [False, True, False, False]  # without base: bm25 and other must both agree


def test_judge_names_must_be_unique():
    with pytest.raises(Exception, match="used twice"):
        config_from_dict({"filter": {"round_trip": {"judges": [{"name": "bm25", "model": "x"}]}}})


def test_a_judge_that_cannot_load_is_a_clear_error(tmp_path):
    from pipeline.errors import ConfigError

    cfg = make_run(tmp_path, QUERIES, passages=PASSAGES[:3], language_check=False,
                   round_trip={"enabled": True, "model": str(tmp_path / "no-such-model")})
    with pytest.raises(ConfigError, match="judge 'base' .*does not exist"):
        FilterStage(cfg).run()


def test_query_embeddings_are_left_in_the_run_store_for_mine(tmp_path, monkeypatch):
    """The dense judge keeps the queries' embeddings in the run's store (same model and prompt as mine's), so mine
    does not encode every query again."""
    from pipeline.mining.embedding_store import EmbeddingStore, text_key
    from pipeline.run_folder import RunFolder

    run_panel(tmp_path, monkeypatch)
    cfg_dir = next(tmp_path.glob("**/filter")).parent
    rt_prompt = config_from_dict({}).filter.round_trip.query_prompt
    store = EmbeddingStore(RunFolder(cfg_dir).path("run.embeddings"), "hand-made", rt_prompt)
    assert set(store._index()) == {text_key(q) for _, _, q in QUERIES}
