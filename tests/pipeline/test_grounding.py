"""Grounding rules (pipeline/filtering/grounding.py) on planted grounded and invented queries, and in the filter."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.filtering.grounding import GroundingRules, fold, sentences
from pipeline.languages import load_language
from pipeline.stages.filter import FilterStage
from tests.pipeline.test_filter import make_run

PAVAROTTI = ("Luciano Pavarotti è morto a Modena il 6 settembre 2007, all'età di 71 anni. Il tenore era malato "
             "da più di un anno; ai funerali nel Duomo hanno partecipato migliaia di persone.")

# (style, query, evidence, the rule it breaks or None)
PLANTED = [
    ("question", "quando è morto Luciano Pavarotti?", "6 settembre 2007", None),
    ("question", "dove si sono svolti i funerali di Pavarotti?", "nel Duomo", None),
    ("question", "quanti anni aveva il tenore Pavarotti alla morte?", "71 anni", None),
    ("keywords", "morte Pavarotti Modena tenore", "è morto a Modena", None),
    ("keywords", "funerali tenore Duomo", "", None),  # keywords need no evidence
    # invented facts: names and numbers the passage does not hold
    ("question", "chi ha espresso cordoglio per Enrico Caruso?", "Luciano Pavarotti", "invented_name"),
    ("question", "cosa è successo a Pavarotti nel 2017?", "è morto", "invented_name"),
    ("keywords", "morte tenore Bologna", "", "invented_name"),
    # asks what the passage does not say
    ("question", "qual è il motivo dell'incidente aereo?", "malato", "ungrounded_words"),
    ("keywords", "concerto beneficenza stadio", "", "ungrounded_words"),
    # evidence problems
    ("question", "di cosa era malato il tenore?", "", "no_evidence"),
    ("question", "chi ha cantato al funerale di Pavarotti?", "Andrea Bocelli ha cantato l'Ave Maria",
     "evidence_not_in_passage"),
    ("question", "Pavarotti è morto il 6 settembre 2007?", "6 settembre 2007", "evidence_in_query"),
]
SHARE = {"keywords": 0.75, "question": 0.5}


@pytest.fixture(scope="module")
def rules():
    return GroundingRules(set(load_language("ita_Latn").stop_words))


@pytest.mark.parametrize(("style", "query", "evidence", "reason"), PLANTED, ids=[p[1][:30] for p in PLANTED])
def test_planted_queries(rules, style, query, evidence, reason):
    verdict = rules.check(query, evidence, PAVAROTTI, min_content_share=SHARE[style],
                          needs_evidence=style == "question", min_context_words=1)
    assert (verdict[0] if verdict else None) == reason, verdict


@pytest.mark.parametrize(("passage", "expected"), [
    ("Si tratta di A. J. 32enne, nato a Sassuolo. Poi «Chi è Dan Friedkin?» Il nuovo proprietario.",
     ["Si tratta di A. J. 32enne, nato a Sassuolo.", "Poi «Chi è Dan Friedkin?", "Il nuovo proprietario."]),
    ("Arrestato! 12 anni dopo... la fine", ["Arrestato!", "12 anni dopo... la fine"]),
    ("nessuna fine di frase qui", ["nessuna fine di frase qui"]),
])
def test_sentences(passage, expected):
    assert sentences(passage) == expected


STORIES = ("Il sindaco ha parlato in consiglio. Poi ha lasciato la sala. Il furto è avvenuto in via Roma. "
           "I ladri sono fuggiti. Nessun ferito.")


@pytest.mark.parametrize(("query", "evidence", "around", "shared"), [
    ("dove hanno parlato il sindaco e i ladri?", "via Roma", 0, 0),
    ("dove hanno parlato il sindaco e i ladri?", "via Roma", 1, 1),  # "ladri", the next sentence
    ("dove hanno parlato il sindaco e i ladri?", "consiglio. Poi ha lasciato la sala. Il furto", 0, 2),  # 3 touched
    ("chi ha commesso il furto in consiglio?", "via Roma", 0, 1),
    ("a che ora ha parlato il sindaco?", "Nessun ferito", 1, 0),
    ("chi era ferito in via Roma?", "Nessun ferito", 2, 2),  # "via", "roma"; not "ferito", the evidence's own
])
def test_answer_context(query, evidence, around, shared):
    rules = GroundingRules(set(load_language("ita_Latn").stop_words), context_sentences=around)
    assert rules.context_words(query, evidence, STORIES)[0] == shared


def test_answer_context_rule_is_off_by_default(rules):
    assert rules.check("a che ora ha parlato il sindaco?", "Nessun ferito", STORIES, min_content_share=0.0,
                       needs_evidence=True) is None
    assert rules.check("a che ora ha parlato il sindaco?", "Nessun ferito", STORIES, min_content_share=0.0,
                       needs_evidence=True, min_context_words=1)[0] == "answer_out_of_context"
    # every word of the question is in its evidence: nothing to place, left to evidence_in_query
    passage = STORIES + " Il ladro è fuggito verso Carpi."
    assert rules.context_words("dove è fuggito il ladro?", "il ladro è fuggito verso Carpi", passage) == (0, 0)
    assert rules.check("dove è fuggito il ladro?", "il ladro è fuggito verso Carpi", passage,
                       min_content_share=0.0, needs_evidence=True, min_context_words=1) is None


def test_words_match_by_stem_and_without_accents(rules):
    passage = "Le elezioni comunali si sono tenute in città; i furti sono calati."
    assert rules.check("elezione comunale città furto", None, passage, min_content_share=1.0) is None
    assert fold("Città") == "citta"
    assert rules.names("dove ha giocato il Modena nel 2019?") == ["Modena", "2019"]


def test_numbers_must_match_exactly(rules):
    assert rules.check("Pavarotti 2008", None, PAVAROTTI, min_content_share=0.5)[0] == "invented_name"


def test_the_filter_counts_grounding_drops_by_reason(tmp_path):
    passages = [{"passage_id": "p0", "text": PAVAROTTI}]
    queries = [(f"q{i}", "p0", q, reason) for i, (_, q, _, reason) in enumerate(PLANTED)]
    cfg = make_run(tmp_path, queries, passages=passages, grounding={"enabled": True, "min_specific_words": {}},
                   max_questions=None,
                   language_check=False, near_duplicate_threshold=1.0)
    # the planted styles and evidence go into generate's output
    table = pq.read_table(cfg.run_dir / "generate" / "queries.parquet").to_pylist()
    for row, (style, _, evidence, _) in zip(table, PLANTED):
        row.update(style=style, evidence=evidence)
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table), cfg.run_dir / "generate" / "queries.parquet")
    stats = FilterStage(cfg).run()
    expected: dict[str, int] = {}
    for *_, reason in PLANTED:
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    assert stats["dropped"] == expected
    kept = pq.read_table(cfg.run_dir / "filter" / "queries.parquet").to_pylist()
    assert sorted(q["query"] for q in kept) == sorted(q for _, q, _, r in PLANTED if r is None)
    assert {q["evidence"] for q in kept} >= {"6 settembre 2007", "nel Duomo"}


def test_names_match_exactly_common_nouns_may_inflect(rules):
    passage = "Luciano Pavarotti è morto a Modena. I carabinieri hanno aperto un'indagine."
    assert rules.check("quando è morto Luciana Pavarotti a Modesto?", None, passage,
                       min_content_share=0.5)[0] == "invented_name"
    assert rules.check("indagine Carabiniere Modena", None, passage, min_content_share=0.5) is None


@pytest.mark.parametrize(("style", "query", "kept"), [
    ("question", "chi ha visto il disastro?", False),  # answerable, but names nothing a searcher knows
    ("question", "qual è il titolo della campagna?", False),
    ("question", "quando è morto Pavarotti?", True),  # a name
    ("question", "quanti anni aveva il tenore alla morte?", True),  # four content words
    ("keywords", "funerali tenore", False),
    ("keywords", "funerali tenore migliaia", True),
])
def test_a_query_must_be_specific(rules, style, query, kept):
    verdict = rules.check(query, "71 anni", PAVAROTTI, min_content_share=0.0,
                          min_specific_words={"question": 4, "keywords": 3}[style])
    assert (verdict is None or verdict[0] != "not_specific") == kept, verdict
