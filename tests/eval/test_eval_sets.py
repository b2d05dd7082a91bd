"""Loading evaluation sets: BEIR folders, the published dataset, MTEB tasks (skipped offline), clear errors."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest

from eval import mteb_sets
from eval.errors import EvalSetError, SetUnavailable
from eval.sets import load_beir_folder, resolve_set

SQUAD = Path(__file__).resolve().parents[3] / "shared" / "eval" / "squad_it_test"


def test_beir_folder(toy_beir: Path) -> None:
    rs = load_beir_folder(toy_beir)
    assert rs.name == "toy" and len(rs.queries) == 3 and len(rs.corpus) == 5
    assert rs.qrels["q2"] == {"d2": 1}
    assert rs.corpus["d1"] == "Roma Roma è la capitale d'Italia."  # title + text
    assert load_beir_folder(toy_beir, use_title=False).corpus["d1"] == "Roma è la capitale d'Italia."


def test_flat_qrels_tsv_and_named_spec(toy_beir: Path) -> None:
    (toy_beir / "qrels" / "test.tsv").rename(toy_beir / "qrels.tsv")
    rs = resolve_set(f"mine={toy_beir}")
    assert rs.name == "mine" and len(rs.qrels) == 3


def test_missing_qrels_is_a_clear_error(toy_beir: Path) -> None:
    shutil.rmtree(toy_beir / "qrels")
    with pytest.raises(EvalSetError) as err:
        resolve_set(str(toy_beir))
    message = str(err.value)
    assert str(toy_beir) in message and "qrels/test.tsv" in message and "Fix:" in message


def test_bad_qrels_header_and_missing_corpus(toy_beir: Path) -> None:
    (toy_beir / "qrels" / "test.tsv").write_text("q1\td1\t1\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="header"):
        resolve_set(str(toy_beir))
    (toy_beir / "corpus.jsonl").unlink()
    with pytest.raises(EvalSetError, match="corpus.jsonl"):
        resolve_set(str(toy_beir))


def test_unknown_spec() -> None:
    with pytest.raises(EvalSetError, match="neither an existing folder nor a known MTEB task"):
        resolve_set("no/such/folder")


def test_dataset_root_uses_beir_test_or_configs(fixture_dataset: Path, tmp_path: Path) -> None:
    via_beir = resolve_set(str(fixture_dataset))
    assert via_beir.name == "it-fixture" and via_beir.source.endswith("beir/test")
    copy = tmp_path / "no-beir"
    shutil.copytree(fixture_dataset, copy, ignore=shutil.ignore_patterns("beir"))
    via_configs = resolve_set(str(copy))
    assert via_configs.queries == via_beir.queries and via_configs.qrels == via_beir.qrels
    assert via_configs.corpus == via_beir.corpus


def test_subsample_is_seeded(fixture_dataset: Path) -> None:
    rs = resolve_set(str(fixture_dataset))
    a, b = rs.subsample(10, seed=3), rs.subsample(10, seed=3)
    assert list(a.queries) == list(b.queries) and len(a.queries) == 10 and a.corpus is rs.corpus
    assert "10 of 96 queries" in a.notes[-1]


@pytest.mark.skipif(not SQUAD.is_dir(), reason="../shared/eval/squad_it_test not present")
def test_real_squad_it_shape() -> None:
    rs = resolve_set(str(SQUAD))
    assert len(rs.corpus) == 2007 and len(rs.queries) == 7609


def test_mteb_missing_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mteb", None)  # import mteb -> ImportError
    with pytest.raises(SetUnavailable, match="mteb is not installed"):
        resolve_set("BelebeleRetrieval")


def test_mteb_offline_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mteb", types.ModuleType("mteb"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(mteb_sets, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(SetUnavailable, match="Hub is unreachable"):
        resolve_set("WikipediaRetrievalMultilingual")


def test_mteb_specs() -> None:
    assert mteb_sets.parse_mteb_spec("BelebeleRetrieval") == ("BelebeleRetrieval", "ita_Latn-ita_Latn")
    assert mteb_sets.parse_mteb_spec("mteb:WikipediaRetrievalMultilingual") == ("WikipediaRetrievalMultilingual", "it")
    assert mteb_sets.parse_mteb_spec("mteb:XPQARetrieval:ita-ita") == ("XPQARetrieval", "ita-ita")
    assert mteb_sets.parse_mteb_spec("/some/folder") is None


def test_mteb_task_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    """mteb 2's retrieval data (corpus/queries Datasets with ``id``, relevant_docs mapping) becomes a set."""
    from datasets import Dataset

    class FakeTask:
        metadata = types.SimpleNamespace(eval_splits=["test"])

        def __init__(self, subset: str) -> None:
            self.subset = subset

        def load_data(self) -> None:
            corpus = Dataset.from_dict({"id": ["d1", "d2"], "title": ["T", ""], "text": ["uno", "due"]})
            queries = Dataset.from_dict({"id": ["q1", "q2"], "text": ["primo", "secondo"]})
            relevant = {"q1": {"d1": 1}, "q2": {"d9": 1}}  # q2's passage is missing: left out
            self.dataset = {self.subset: {"test": {"corpus": corpus, "queries": queries, "relevant_docs": relevant}}}

    fake = types.ModuleType("mteb")
    fake.get_task = lambda name, hf_subsets: FakeTask(hf_subsets[0])
    monkeypatch.setitem(sys.modules, "mteb", fake)
    monkeypatch.setattr(mteb_sets, "hub_reachable", lambda timeout=3.0: True)
    rs = resolve_set("bele=BelebeleRetrieval")
    assert rs.name == "bele" and rs.source == "mteb:BelebeleRetrieval:ita_Latn-ita_Latn"
    assert rs.corpus == {"d1": "T uno", "d2": "due"} and rs.queries == {"q1": "primo"}
    assert rs.qrels == {"q1": {"d1": 1}} and "1 queries without a relevant passage" in rs.notes[0]


def test_default_set_names(tmp_path: Path) -> None:
    from eval.sets import default_set_name

    assert default_set_name(tmp_path / "runs" / "demo" / "publish" / "dataset" / "beir" / "test") == "demo"
    assert default_set_name(tmp_path / "squad_it_test") == "squad_it_test"
