"""benchmarks/scale.py at two tiny sizes on the fixture sentences (no ../shared): every stage timed and measured,
growth exponents computed, the summary line in its documented format; and the synthetic data it builds."""

from __future__ import annotations

import random
import re

import pytest

from benchmarks.scale import STAGES, growth_exponents, run_benchmark, run_stage, scale_overrides, summary_line
from retrieval.testing.synthetic_corpus import load_sentences, passage_query, recombined_passages

SUMMARY = re.compile(r"growth exponent -?\d+\.\d\d \(worst stage (filter|mine|split|publish)\), peak RSS \d+\.\d GB")


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("scale")
    result = run_benchmark([200, 400], workdir, load_sentences(None), in_process=True)
    return {**result, "workdir": workdir}


def test_every_stage_is_timed_and_measured(benchmark):
    assert [run["size"] for run in benchmark["runs"]] == [200, 400]
    for run in benchmark["runs"]:
        assert list(run["stages"]) == list(STAGES) and run["queries"] > 0
        for figures in run["stages"].values():
            assert figures["seconds"] > 0 and figures["process_s"] >= figures["seconds"]
            assert figures["peak_rss_gb"] > 0 and figures["rows"] > 0
    assert benchmark["exponents"][0]["from"] == 200 and set(benchmark["exponents"][0]["exponents"]) == {*STAGES,
                                                                                                          "total"}


def test_report_ends_with_the_summary_line(benchmark):
    report = benchmark["report"].splitlines()
    assert all(f" {stage} " in benchmark["report"] for stage in STAGES)
    assert SUMMARY.fullmatch(report[-1]), report[-1]


def test_a_stage_runs_in_its_own_process(benchmark):
    """The default route: a child process reports its own figures (here the finished stage is only confirmed)."""
    workdir = benchmark["workdir"]
    overrides = scale_overrides(workdir / "runs", "scale-200-tiny", str(workdir / "tiny-model"), 200, tiny=True)
    figures = run_stage("publish", overrides, workdir / "logs" / "child-publish.log")
    assert figures["peak_rss_gb"] > 0 and figures["rows"] > 0
    assert "already done" in (workdir / "logs" / "child-publish.log").read_text()


def test_growth_exponent_of_linear_and_quadratic_stages():
    def run(n: int) -> dict:
        stages = {s: {"seconds": n / 100, "peak_rss_gb": 0.5} for s in STAGES}
        stages["mine"]["seconds"] = (n / 100) ** 2
        return {"size": n, "model": "tiny", "stages": stages}

    runs = [run(100), run(1000)]
    exponents = growth_exponents(runs)[0]["exponents"]
    assert exponents["filter"] == pytest.approx(1.0) and exponents["mine"] == pytest.approx(2.0)
    assert summary_line(runs, growth_exponents(runs)) == "growth exponent 2.00 (worst stage mine), peak RSS 0.5 GB"


def test_synthetic_passages_are_unique_and_queries_come_from_their_passage():
    passages = list(recombined_passages(load_sentences(None), 300, seed=1))
    assert len({p["text"] for p in passages}) == 300
    assert all(110 <= len(p["text"].split()) <= 240 for p in passages)
    assert [p["position"] for p in passages[:5]] == [0, 1, 2, 3, 0]
    rng = random.Random(0)
    for p in passages[:50]:
        query = passage_query(p, rng, "q")
        words = set(re.findall(r"\w+", p["text"].lower()))
        assert set(re.findall(r"\w+", query["query"].lower())) - words <= {"quando", "dove", "perché", "come", "in",
                                                                         "che", "modo", "e"}
        assert all(w in words for w in re.findall(r"\w+", query["evidence"].lower()))


def test_tasks_shard_the_round_trip_and_mining(tmp_path):
    from pipeline.config import load_config

    one = scale_overrides(tmp_path, "r", "m", 100, tiny=True)
    three = scale_overrides(tmp_path, "r", "m", 100, tiny=True, tasks=3)
    assert "mine.tasks" not in one
    config = load_config(None, three)
    assert (config.mine.tasks, config.filter.round_trip.tasks, config.executor.workers) == (3, 3, 3)
