"""The filter's common-words rule on a stage run: keyword queries made only of words that fill the corpus."""

from __future__ import annotations

import pyarrow.parquet as pq

from pipeline.stages.filter import FilterStage
from tests.pipeline.test_filter import make_run


def test_keyword_queries_of_only_common_words_are_dropped(tmp_path):
    """In a corpus of crime news, "carabinieri denunce" names nothing that singles out one passage; a keyword query
    with one rare word ("Bomporto") or a question of the same words is not judged by this rule."""
    town = ["Carpi", "Mirandola", "Vignola", "Sassuolo", "Formigine", "Pavullo", "Finale", "Nonantola", "Maranello",
            "Fiorano", "Castelfranco", "Soliera", "Novi", "Concordia", "Zocca", "Fanano", "Sestola", "Spilamberto",
            "Savignano", "Bastiglia", "Ravarino", "Bomporto", "Medolla", "Cavezzo", "Sozzigalli"]
    passages = [{"passage_id": f"n{i}", "text": f"A {name} i carabinieri hanno raccolto le denunce dei residenti "
                 f"dopo una serie di furti nelle abitazioni della zona di {name}."} for i, name in enumerate(town)]
    queries = [("common", "n0", "carabinieri denunce", "common_words", "keywords"),
               ("rare", "n21", "carabinieri denunce Bomporto", None, "keywords"),
               ("question", "n1", "a chi hanno dato le denunce i carabinieri?", None, "question")]
    cfg = make_run(tmp_path, queries, passages=passages)
    stats = FilterStage(cfg).run()
    assert stats["dropped"] == {"common_words": 1}
    dropped = pq.read_table(cfg.run_dir / "filter" / "dropped.parquet").to_pylist()
    assert dropped[0]["query_id"] == "common"
    assert dropped[0]["detail"] == "rarest word 'carabinieri' is in 25 passages"  # ties: the first in order
    # the limit is max(share x passages, min_passages): 25 passages are not "common" under a min of 25
    relaxed = FilterStage(make_run(tmp_path, queries, passages=passages, run_name="relaxed",
                                   common_word_min_passages=25)).run()
    assert relaxed["rows"] == 3
    off = FilterStage(make_run(tmp_path, queries, passages=passages, run_name="off", common_word_styles=[])).run()
    assert off["rows"] == 3
