"""The filter stage: every rule on planted queries, its outputs, round-trip ranks, decontamination, clear errors.

Run folders are built by hand (passages and generate output with their markers), so each test sets exactly the
queries a rule must keep or drop; one test runs generate for real against the fake OpenAI server first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.config import config_from_dict
from pipeline.errors import InputDataError, StageError
from pipeline.filtering.decontamination import EvalOverlapIndex
from pipeline.filtering.round_trip import positive_ranks
from pipeline.run_folder import SUCCESS, read_marker
from pipeline.stages.filter import FilterStage
from pipeline.stages.generate import GenerateStage
from retrieval.beir import write_beir
from retrieval.testing.fake_openai_server import FakeOpenAIServer
from tests.pipeline.run_folders import ITALIAN_PASSAGES, write_generated_queries, write_passages

ADIGE, PALERMO, GENOVA = ITALIAN_PASSAGES[0], ITALIAN_PASSAGES[1], ITALIAN_PASSAGES[2]
STADIO = ("Secondo le cronache lo stadio olimpico di Roma ha ospitato la finale dei campionati europei di atletica, "
          "ricordano oggi i giornali sportivi della capitale.")
EVAL_PASSAGE = ("Lo stadio olimpico di Roma ha ospitato la finale dei campionati europei di atletica nel 1974 con "
                "grande successo di pubblico.")
EVAL_QUERIES = ["chi ha vinto la medaglia d'oro nel salto in alto a Roma",
                "Quando fu fondata la cattedrale di Palermo?"]

PASSAGES = [{"passage_id": "p0", "text": ADIGE}, {"passage_id": "p1", "text": PALERMO},
            {"passage_id": "p2", "text": GENOVA}, {"passage_id": "p3", "text": STADIO}]
LONG_QUERY = " ".join(["vorrei sapere quali stili architettonici normanni gotici e barocchi si trovano nella "
                       "cattedrale di Palermo e"] * 4)

# (query_id, passage_id, query, the reason it is dropped or None)
PLANTED = [
    ("keep-adige", "p0", "Dove nasce il fiume Adige e quanto è lungo?", None),
    ("keep-adige-2", "p0", "Quali città attraversa l'Adige prima di arrivare al mare?", None),
    ("keep-genova", "p2", "Quante navi da crociera arrivano nel porto di Genova?", None),
    ("english", "p0", "Where does the Adige river start and how long is it?", "language"),
    ("too-short", "p1", "cattedrale", "length"),
    ("too-long", "p1", LONG_QUERY, "length"),
    ("exact-dup", "p1", "dove nasce il fiume Adige, e quanto è lungo", "duplicate"),
    ("near-dup", "p0", "Il fiume Adige: dove nasce e quanto lungo", "near_duplicate"),
    ("copied", "p2", "arrivano ogni anno milioni di container", "copied_from_passage"),
    ("multi-q", "p2", "Da dove partono i container per Genova? Quanto costa il porto?", "multi_question"),
    ("on-contaminated", "p3", "Quale finale si è giocata nello stadio olimpico?", "contaminated_passage"),
    ("eval-ngram", "p2", "chi ha vinto la medaglia d'oro nel porto di Genova", "contaminated_query"),
    ("eval-exact", "p1", "quando fu fondata la cattedrale di Palermo", "contaminated_query"),
    ("keep-keywords", "p2", "navi crociera porto Genova", None, "keywords"),
    ("repeated", "p2", "container Genova container porto", "repeated_word", "keywords"),
]


def filter_config(tmp_path: Path, run_name: str = "flt", **filter_section):
    section = {"round_trip": {"enabled": False}, "grounding": {"enabled": False}, **filter_section}
    return config_from_dict({"run_name": run_name, "output_dir": str(tmp_path / "runs"), "filter": section,
                             "split": {"eval_queries": "all"}})  # any panel: these tests are about the filter


def make_run(tmp_path: Path, queries: list[tuple], passages: list[dict] = PASSAGES, run_name: str = "flt",
             **filter_section):
    cfg = filter_config(tmp_path, run_name, **filter_section)
    write_passages(cfg.run_dir, passages)
    write_generated_queries(cfg.run_dir, [{"query_id": qid, "passage_id": pid, "query": q,
                                           "style": rest[1] if len(rest) > 1 else "question"}
                                          for qid, pid, q, *rest in queries])
    return cfg


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory) -> Path:
    """A tiny BEIR folder: one passage overlapping STADIO by 8+ words, queries overlapping two planted ones."""
    folder = tmp_path_factory.mktemp("eval") / "tiny_beir"
    return write_beir(folder, [{"_id": "e1", "title": "Atletica", "text": EVAL_PASSAGE}],
                             [{"_id": f"eq{i}", "text": t} for i, t in enumerate(EVAL_QUERIES)],
                             [("eq0", "e1", 1), ("eq1", "e1", 1)])


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory, eval_set):
    tmp_path = tmp_path_factory.mktemp("planted")
    cfg = make_run(tmp_path, PLANTED, decontamination={"eval_sets": [str(eval_set)]})
    stats = FilterStage(cfg).run()
    return cfg, stats


# --------------------------------------------------------------------------------------------- the rules
def test_each_rule_drops_its_planted_query(planted_run):
    cfg, stats = planted_run
    out = cfg.run_dir / "filter"
    kept = pq.read_table(out / "queries.parquet").to_pylist()
    dropped = pq.read_table(out / "dropped.parquet").to_pylist()
    assert sorted(q["query_id"] for q in kept) == sorted(qid for qid, _, _, reason, *_ in PLANTED if reason is None)
    assert {d["query_id"]: d["reason"] for d in dropped} == {qid: r for qid, _, _, r, *_ in PLANTED if r}
    expected_counts: dict[str, int] = {}
    for _, _, _, reason, *_ in PLANTED:
        if reason:
            expected_counts[reason] = expected_counts.get(reason, 0) + 1
    assert stats["dropped"] == expected_counts
    assert stats["queries_in"] == len(PLANTED) and stats["rows"] == len(kept)
    assert stats["kept_by_style"] == {"question": len(kept) - 1, "keywords": 1}


def test_dropped_rows_explain_the_reason(planted_run):
    cfg, _ = planted_run
    dropped = {d["query_id"]: d for d in pq.read_table(cfg.run_dir / "filter" / "dropped.parquet").to_pylist()}
    assert pq.read_schema(cfg.run_dir / "filter" / "dropped.parquet").names == [
        "query_id", "passage_id", "style", "query", "reason", "detail"]
    assert dropped["english"]["detail"].startswith("p(it)=")
    assert dropped["too-short"]["detail"] == "1 words, 10 chars"
    assert "verbatim" in dropped["copied"]["detail"]
    assert dropped["near-dup"]["detail"].startswith("jaccard ")
    assert dropped["multi-q"]["detail"] == "2 questions in one query"
    assert dropped["exact-dup"]["query"] == "dove nasce il fiume Adige, e quanto è lungo"


def test_contaminated_passage_leaves_the_corpus(planted_run):
    cfg, stats = planted_run
    corpus = pq.read_table(cfg.run_dir / "filter" / "passages.parquet").to_pylist()
    assert [p["passage_id"] for p in corpus] == ["p0", "p1", "p2"]
    assert set(corpus[0]) >= {"passage_id", "doc_id", "url", "position", "n_tokens", "text"}
    assert stats["passages_removed_contaminated"] == 1 and stats["corpus_passages"] == 3
    assert stats["passages_with_queries"] == 2


def test_filter_marker_and_skip(planted_run):
    cfg, stats = planted_run
    marker = read_marker(cfg.run_dir / "filter")
    assert marker["upstream"] == "generate-handmade" and marker["stats"]["rows"] == stats["rows"]
    assert json.loads((cfg.run_dir / "filter" / "stats.json").read_text())["dropped"] == stats["dropped"]
    assert FilterStage(cfg).run() == stats  # finished: skipped


def test_rules_relaxed_by_config(tmp_path):
    """The thresholds are the config's: relaxing them keeps what the defaults drop."""
    queries = [q for q in PLANTED if q[3] in (None, "length", "copied_from_passage", "near_duplicate")]
    cfg = make_run(tmp_path, queries, min_words=1, max_words=200, max_chars=2000, copy_max_ratio=1.0,
                   copy_min_words=50, near_duplicate_threshold=1.0)
    stats = FilterStage(cfg).run()
    # near_duplicate_threshold 1.0: only identical bags of content words are near-duplicates (the planted one is)
    assert stats["dropped"] == {"near_duplicate": 1}
    assert stats["rows"] == len(queries) - 1


def test_language_check_can_be_disabled(tmp_path):
    queries = [("it", "p0", "Dove nasce il fiume Adige e quanto è lungo?"),
               ("en", "p1", "Which architectural styles does the cathedral of Palermo combine?")]
    assert FilterStage(make_run(tmp_path, queries, run_name="on")).run()["dropped"] == {"language": 1}
    assert FilterStage(make_run(tmp_path, queries, run_name="off", language_check=False)).run()["rows"] == 2


def test_short_keyword_queries_are_judged_only_when_clearly_foreign(tmp_path):
    """fastText cannot tell the language of a few names: short queries are dropped only when another language is
    confident; queries long enough to judge must be likely enough Italian."""
    queries = [("names", "p0", "Adige Verona Trento"),  # p(it) low, but no language is confident: kept
               ("names-2", "p1", "cattedrale normanna Palermo"),
               ("en-keywords", "p0", "river mountain lake facts"),  # English, confidently: dropped
               ("en-question", "p1", "Where does the Adige river start?")]
    cfg = make_run(tmp_path, queries)
    stats = FilterStage(cfg).run()
    dropped = {d["query_id"]: d for d in pq.read_table(cfg.run_dir / "filter" / "dropped.parquet").to_pylist()}
    assert set(dropped) == {"en-keywords", "en-question"} and stats["dropped"] == {"language": 2}
    assert "top en" in dropped["en-keywords"]["detail"]
    strict = make_run(tmp_path, [*queries, ("italian", "p0", "Dove nasce il fiume Adige e quanto è lungo?")],
                      run_name="strict", language_min_words=1)  # judge every query, however short
    FilterStage(strict).run()
    dropped = pq.read_table(strict.run_dir / "filter" / "dropped.parquet").to_pylist()
    assert {d["query_id"] for d in dropped} >= {"names", "en-keywords", "en-question"}
    assert "italian" not in {d["query_id"] for d in dropped}


# ------------------------------------------------------------------------------------------- round trip
class FakeEmbedder:
    """Hand-made vectors: passage i -> e_i; a query -> e_j for the passage it names (see ``targets``)."""

    def __init__(self, passages: list[dict], targets: dict[str, str]):
        self.dim = len(passages)
        self.passage_index = {p["text"]: i for i, p in enumerate(passages)}
        self.pid_index = {p["passage_id"]: i for i, p in enumerate(passages)}
        self.targets = targets
        self.prompts: list[str | None] = []

    def encode(self, texts, prompt=None, **kwargs):
        self.prompts.append(prompt)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            i = self.passage_index.get(text)
            out[row, i if i is not None else self.pid_index[self.targets[text]]] = 1.0
        return out


def test_round_trip_drops_queries_whose_passage_ranks_low(tmp_path, monkeypatch):
    passages = PASSAGES[:3]
    queries = [("own-0", "p0", "Dove nasce il fiume Adige e quanto è lungo?"),
               ("own-1", "p1", "Quali stili architettonici unisce la cattedrale di Palermo?"),
               ("misled", "p2", "Quante navi da crociera arrivano nel porto di Genova?")]
    targets = {queries[0][2]: "p0", queries[1][2]: "p1", queries[2][2]: "p1"}  # 'misled' looks like Palermo
    fake = FakeEmbedder(passages, targets)
    loaded: list[str] = []
    monkeypatch.setattr("retrieval.models.load_embedder", lambda name: loaded.append(name) or fake)
    cfg = make_run(tmp_path, queries, passages=passages,
                   round_trip={"enabled": True, "model": "hand-made-vectors", "top_k": 1, "bm25_top_k": None})
    stats = FilterStage(cfg).run()
    assert loaded == ["hand-made-vectors"]
    assert stats["dropped"] == {"round_trip": 1}
    kept = pq.read_table(cfg.run_dir / "filter" / "queries.parquet").to_pylist()
    assert {q["query_id"]: q["positive_rank"] for q in kept} == {"own-0": 1, "own-1": 1}
    dropped = pq.read_table(cfg.run_dir / "filter" / "dropped.parquet").to_pylist()
    assert [(d["query_id"], d["reason"], d["detail"]) for d in dropped] == [
        ("misled", "round_trip", "rank_base 3")]  # ties count against the positive: all 3 score 0
    assert set(fake.prompts) == {"passage: ", "query: "}
    assert list((cfg.run_dir / "embeddings").rglob("shard-*.npy")), "passage embeddings are in the run's store"


def test_positive_ranks_on_hand_made_vectors():
    passages = np.eye(4, dtype=np.float32)
    queries = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0.8, 0.6, 0, 0], [0, 0, 0, 1], [0.5, 0.5, 0.5, 0.5]],
                       dtype=np.float32)
    positives = np.array([0, 0, 0, 2, 3])
    expected = [1, 2, 1, 4, 4]  # the last: a four-way tie, counted against the positive
    assert positive_ranks(queries, passages, positives).tolist() == expected
    assert positive_ranks(queries, passages, positives, max_scores=len(passages)).tolist() == expected  # 1 a block
    assert positive_ranks(queries, passages, positives, max_scores=2 * len(passages) + 1).tolist() == expected


def test_round_trip_with_a_tiny_model(tmp_path):
    """The real embedder path: a tiny SentenceTransformer, top_k = every passage, so every rank is kept."""
    from retrieval.testing.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny_model")
    queries = [q[:3] for q in PLANTED if q[3] is None]
    cfg = make_run(tmp_path, queries, round_trip={"enabled": True, "model": str(model), "top_k": len(PASSAGES),
                                                  "batch_size": 8})
    stats = FilterStage(cfg).run()
    kept = pq.read_table(cfg.run_dir / "filter" / "queries.parquet").to_pylist()
    assert stats["rows"] == len(queries) and "round_trip" not in stats["dropped"]
    assert all(1 <= q["positive_rank"] <= len(PASSAGES) for q in kept)
    shards = sorted((cfg.run_dir / "embeddings").rglob("shard-*.keys"))
    shard_rows = [len(p.read_text().split()) for p in shards]  # one shard per prompt: passages and queries
    assert sorted(shard_rows) == sorted([len(PASSAGES), len(queries)])

    strict = make_run(tmp_path, queries, run_name="strict",
                      round_trip={"enabled": True, "model": str(model), "top_k": 1, "batch_size": 8,
                                  "bm25_top_k": None})
    below_top1 = sum(1 for q in kept if q["positive_rank"] > 1)  # same model and texts: the same ranks
    if below_top1 == len(kept):  # an untrained model may rank no positive first: then nothing is left
        with pytest.raises(StageError, match="every query was filtered away"):
            FilterStage(strict).run()
    else:
        assert FilterStage(strict).run()["dropped"].get("round_trip", 0) == below_top1


# ----------------------------------------------------------------------------------------- decontamination
def test_eval_overlap_index(eval_set):
    index = EvalOverlapIndex([str(eval_set)], ngram=8, query_ngram=5)
    assert index.passage_overlaps(STADIO)
    assert not index.passage_overlaps(ADIGE)
    assert index.query_overlaps("Chi ha vinto la medaglia d'oro alle Olimpiadi?")
    assert index.query_overlaps("QUANDO fu fondata la cattedrale di Palermo")
    assert not index.query_overlaps("Dove nasce il fiume Adige?")
    exact_only = EvalOverlapIndex([str(eval_set)], ngram=8, query_ngram=20)
    assert exact_only.query_overlaps("quando fu fondata la cattedrale di Palermo?")
    assert not exact_only.query_overlaps("chi ha vinto la medaglia d'oro nel porto di Genova")
    titled = EvalOverlapIndex([str(eval_set)], ngram=3, query_ngram=5)
    assert titled.passage_overlaps("sport: atletica lo stadio")  # the title counts as corpus text



def test_question_templates_and_stop_word_ngrams_are_not_contamination(tmp_path):
    names = ["Edwina", "Carlo", "Lucia", "Marco"]
    queries = [{"_id": f"q{i}", "text": f"qual è il nome del fratello di {n}?"} for i, n in enumerate(names)]
    queries.append({"_id": "q9", "text": "che cosa ha fatto il sindaco dopo la nevicata?"})
    folder = write_beir(tmp_path / "eval", [{"_id": "e1", "text": "testo"}], queries, [])
    stop = {"il", "del", "di", "che", "ha", "la", "dopo", "è", "cosa"}
    index = EvalOverlapIndex([str(folder)], ngram=8, query_ngram=5, stop_words=stop, query_min_content_words=2,
                             query_template_count=3)
    # "qual è il nome del" opens four evaluation questions: a template, not one item's content
    assert not index.query_overlaps("qual è il nome del veterinario?")
    # "che cosa ha fatto il" has one word outside the stop words: no evidence either
    assert not index.query_overlaps("che cosa ha fatto il giovane apprendista?")
    # a real overlap (rare n-gram with content words) and an exact copy are still caught
    assert index.query_overlaps("dimmi il nome del fratello di Edwina")
    assert index.query_overlaps("cosa ha fatto il sindaco dopo la nevicata di ieri")
    assert index.query_overlaps("Qual è il nome del fratello di Lucia")
    # both rules off: the old behaviour, any shared 5-gram counts
    strict = EvalOverlapIndex([str(folder)], ngram=8, query_ngram=5)
    assert strict.query_overlaps("qual è il nome del veterinario?")

def test_eval_set_errors_name_the_file(tmp_path):
    with pytest.raises(InputDataError, match="eval_sets"):
        EvalOverlapIndex([str(tmp_path / "missing")])
    broken = write_beir(tmp_path / "broken", [{"_id": "e1", "text": "testo"}], [], [])
    (broken / "queries.jsonl").write_text('{"_id": "q1", "text": "ok"}\nnot json\n')
    from retrieval.errors import EvalSetError  # the one BEIR reader's error (retrieval/beir.py)

    with pytest.raises(EvalSetError, match=r"queries.jsonl line 2 is not valid JSON"):
        EvalOverlapIndex([str(broken)])


def test_missing_eval_set_stops_the_stage(tmp_path):
    cfg = make_run(tmp_path, [q[:3] for q in PLANTED[:2]], decontamination={"eval_sets": [str(tmp_path / "nope")]})
    with pytest.raises(InputDataError, match="nope"):
        FilterStage(cfg).run()


# ------------------------------------------------------------------------------------------------ errors
def test_everything_filtered_away_is_a_clear_error(tmp_path):
    queries = [("en-1", "p0", "Where does the Adige river start?"),
               ("en-2", "p1", "Which styles does the cathedral of Palermo combine?")]
    cfg = make_run(tmp_path, queries)
    with pytest.raises(StageError, match="every query was filtered away") as info:
        FilterStage(cfg).run()
    out = cfg.run_dir / "filter"
    assert "dropped.parquet" in str(info.value) and "filter section" in str(info.value)
    dropped = pq.read_table(out / "dropped.parquet").to_pylist()  # the file the message points at exists
    assert {d["query_id"]: d["reason"] for d in dropped} == {"en-1": "language", "en-2": "language"}
    assert not (out / SUCCESS).exists() and not (out / "queries.parquet").exists()


def test_no_generated_queries_is_a_clear_error(tmp_path):
    cfg = make_run(tmp_path, [])
    with pytest.raises(StageError, match="generate produced no valid queries"):
        FilterStage(cfg).run()


def test_filter_needs_generate(tmp_path):
    cfg = filter_config(tmp_path)
    write_passages(cfg.run_dir, PASSAGES)
    with pytest.raises(StageError, match="--stage generate"):
        FilterStage(cfg).run()


# ------------------------------------------------------------------------------------------ generate -> filter
def test_generate_then_filter(tmp_path, monkeypatch):
    """Real generate output (fake endpoint) feeds filter: English replies are dropped by the language rule."""
    monkeypatch.setenv("RDT_TEST_FILTER_KEY", "sk-filter-test")
    passages = [{"passage_id": f"g{i}", "text": t} for i, t in enumerate(ITALIAN_PASSAGES[3:8])]
    passages[1]["text"] = "[[ENGLISH]] " + passages[1]["text"]
    with FakeOpenAIServer(model="fake-model", api_key="sk-filter-test") as fake:
        cfg = config_from_dict({
            "run_name": "e2e", "output_dir": str(tmp_path / "runs"),
            "generate": {"backend": "endpoint", "endpoint_url": fake.url, "model": "fake-model",
                         "api_key_env": "RDT_TEST_FILTER_KEY", "concurrency": 2},
            "filter": {"round_trip": {"enabled": False}},
        })
        write_passages(cfg.run_dir, passages)
        gen_stats = GenerateStage(cfg).run()
    assert gen_stats["rows"] == 3 * len(passages)
    stats = FilterStage(cfg).run()
    dropped = pq.read_table(cfg.run_dir / "filter" / "dropped.parquet").to_pylist()
    english = [d for d in dropped if d["passage_id"] == "g1"]
    assert len(english) == 3 and {d["reason"] for d in english} == {"language"}
    kept = pq.read_table(cfg.run_dir / "filter" / "queries.parquet").to_pylist()
    assert "g1" not in {q["passage_id"] for q in kept}
    assert {q["style"] for q in kept} == {"question", "keywords"}
    assert stats["queries_in"] == gen_stats["rows"] and stats["rows"] + len(dropped) == stats["queries_in"]
    generated = pq.read_table(cfg.run_dir / "generate" / "queries.parquet").to_pylist()
    assert set(kept[0]) >= set(generated[0])  # filter keeps generate's columns


def test_corpus_cap_keeps_every_queried_passage_and_samples_the_rest(tmp_path):
    """corpus_max_passages: the passages with queries always stay; distractors fill the cap, seeded."""
    extra = [{"passage_id": f"x{i}", "text": f"Passaggio di riempimento numero {i} sulla storia del porto."}
             for i in range(20)]
    queries = [q for q in PLANTED if q[0] in ("keep-adige", "keep-genova")]
    cfg = make_run(tmp_path, queries, passages=PASSAGES + extra, corpus_max_passages=6)
    stats = FilterStage(cfg).run()
    corpus = pq.read_table(cfg.run_dir / "filter" / "passages.parquet").column("passage_id").to_pylist()
    assert len(corpus) == 6 and {"p0", "p2"} <= set(corpus)
    assert stats["corpus_passages"] == 6
    again = make_run(tmp_path, queries, passages=PASSAGES + extra, run_name="again", corpus_max_passages=6)
    FilterStage(again).run()
    assert pq.read_table(again.run_dir / "filter" / "passages.parquet").column("passage_id").to_pylist() == corpus
