"""The dataset card: metadata, statistics gathered from stats.json files, plots, and the rendered template."""

from __future__ import annotations

import json

import yaml

from dataset_card import CardData, card_metadata, front_matter, size_category, write_card
from dataset_card.context import clean_reason, drop_rows, llm_label, model_label, read_stage_stats
from dataset_card.plots import drops, scores
from pipeline.config import config_from_dict
from pipeline.languages import load_language

FILES = {"triplets": {"train": "triplets/train.parquet", "test": "triplets/test.parquet"},
         "corpus": {"corpus": "corpus/corpus.parquet"}}
STATS = {"ingest": {"documents_in": 12345, "kept": 9876, "dropped": {"language": 1500, "minhash": 969}},
         "passages": {"rows": 40000, "tokens_mean": 180.5, "tokens_max": 256},
         "generate": {"replies": 500, "rows": 1480, "replies_dropped": {"invalid_json": 3}, "queries_dropped": {},
                      "model": "qwen2.5-1.5b", "prompt_hash": "f00dfeed"},
         "filter": {"queries_in": 1480, "rows": 1200, "dropped": {"copy": 30, "round_trip": 250}},
         "mine": {"queries_in": 1200, "queries_with_k_negatives": 1100, "queries_without_negatives": 7,
                  "dropped": {"guard_dense": 800, "same_document": 0}},
         "split": {"negatives_dropped_leak": 12}}


def _run(tmp_path, stats=STATS):
    for stage, values in stats.items():
        (tmp_path / "run" / stage).mkdir(parents=True)
        (tmp_path / "run" / stage / "stats.json").write_text(json.dumps(values))
    return tmp_path / "run"


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


def test_metadata_lists_configs_with_data_files():
    meta = card_metadata(pretty_name="X", language="it", license="cc-by-4.0", source_datasets=["allenai/c4"],
                         tags=["retrieval"], n_rows=1500, files=FILES)
    assert meta["configs"][0] == {"config_name": "triplets", "default": True, "data_files": [
        {"split": "train", "path": "triplets/train.parquet"}, {"split": "test", "path": "triplets/test.parquet"}]}
    assert meta["task_ids"] == ["document-retrieval"] and meta["size_categories"] == ["1K<n<10K"]
    block = front_matter(meta)
    assert block.startswith("---\n") and block.endswith("---\n")
    assert yaml.safe_load(block.strip("-\n"))["configs"][1]["config_name"] == "corpus"


def test_drop_rows_follow_the_pipeline_and_skip_zeros(tmp_path):
    rows = drop_rows(read_stage_stats(_run(tmp_path)))
    assert rows[0] == ("ingest (documents)", "language", 1500)
    assert ("mine (negatives)", "false-negative guard (dense)", 800) in rows
    assert rows[-1] == ("split (negatives)", "held-out positive or near-duplicate", 12)
    assert all(n > 0 for _, _, n in rows)


def test_card_renders_every_number_from_the_stats(tmp_path):
    config = config_from_dict({"publish": {"repo_id": "me/it-retrieval", "version": "2.0.0"},
                               "generate": {"backend": "endpoint", "endpoint_url": "http://llm:8000/v1"}})
    folder = tmp_path / "dataset"
    rows = {"train": [{"style": "keywords", "query": "alluvione Modena", "positive_score": 0.9,
                       "negatives": [{"score": 0.8, "source": "dense"}, {"score": 0.7, "source": "bm25"}]}],
            "dev": [], "test": []}
    passages = [{"text": "uno due tre", "n_tokens": 3}, {"text": "quattro cinque", "n_tokens": 2}]
    counts = {"triplets": {"train": 1, "test": 0}, "corpus": {"corpus": 2}}
    readme = write_card(config, load_language("ita_Latn"), _run(tmp_path), folder, FILES, counts,
                        CardData.from_rows(rows, passages))
    text = readme.read_text()
    for expected in ("12,345 documents read", "9,876 kept", "40,000 passages", "`qwen2.5-1.5b`", "f00dfeed",
                     "1200 kept", "1100 of 1200 queries", "| filter (queries) | round_trip | 250 |",
                     'load_dataset("me/it-retrieval", "triplets"', 'revision="v2.0.0"', "12 such negatives",
                     "(plots/negative_scores.png)", "## Limitations", "@misc{retrieval_triplets"):
        assert expected in text, expected
    assert sorted(p.name for p in (folder / "plots").iterdir()) == [
        "drops.png", "negative_scores.png", "passage_lengths.png", "query_lengths.png", "query_styles.png"]


def test_card_survives_missing_stats(tmp_path):
    config = config_from_dict({})
    readme = write_card(config, load_language("ita_Latn"), tmp_path / "empty-run", tmp_path / "d", FILES,
                        {"triplets": {"train": 0}}, CardData())
    assert "n/a documents read" in readme.read_text()


def test_plots_skip_empty_data(tmp_path):
    assert drops(tmp_path, []) is None and scores(tmp_path, [], {}, 0.05) is None
    plot = scores(tmp_path / "plots", [0.9, 0.8], {"dense": [0.7]}, 0.05)
    assert plot.file == "plots/negative_scores.png" and "95%" in plot.caption


def test_model_label_hides_local_paths(tmp_path):
    assert model_label("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
    assert model_label(str(tmp_path)) == f"{tmp_path.name} (local copy)"


def test_labels_users_can_look_up():
    local = config_from_dict({"generate": {"llamacpp": {"model_path": None}}})
    gguf = "Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf"
    assert llm_label(local, "local-gguf") == f"local-gguf ({gguf})"
    assert clean_reason("🔻 - FILTER: 🍷 FineWeb Quality") == "FineWeb Quality"


def test_card_data_keeps_every_value_up_to_its_cap_then_a_uniform_sample():
    from dataset_card.data import Reservoir

    small = Reservoir(cap=100)
    for v in range(50):
        small.add(v)
    assert small.values == list(range(50))
    big = Reservoir(cap=100, seed=1)
    for v in range(10_000):
        big.add(v)
    assert big.seen == 10_000 and len(set(big.values)) == 100
    assert 3_500 < sum(big.values) / 100 < 6_500  # a sample of the whole stream, not its head


def test_card_data_fed_in_batches_equals_one_batch():
    rows = [{"query_id": f"q{i}", "style": "keywords" if i % 3 else "question", "query": "a b " * (i % 4 + 1),
             "positive_score": 0.5 + i / 100, "negatives": [{"score": i / 100, "source": "dense"}]} for i in range(10)]
    whole = CardData.from_rows({"train": rows[:6], "dev": [], "test": rows[6:]}, [{"text": "a b", "n_tokens": 2}])
    parts = CardData()
    for batch in (rows[:2], rows[2:6]):
        parts.add_rows("train", batch)
    parts.add_rows("test", rows[6:])
    parts.add_passages([{"text": "a b", "n_tokens": 2}])
    assert parts.styles == whole.styles and parts.test_query_ids == {"q6", "q7", "q8", "q9"}
    assert {s: r.values for s, r in parts.query_words.items()} == {s: r.values for s, r in whole.query_words.items()}
    assert parts.positive_scores.values == whole.positive_scores.values
    assert parts.passage_lengths() == whole.passage_lengths() == ([2], "tokens")


def test_card_of_a_curated_collection_names_it_not_c4(tmp_path):
    """An adaptation dataset (pipeline.adapt): one's own documents, web filters off, no test split."""
    config = config_from_dict({
        "publish": {"source_description": "our product manuals"}, "split": {"train": 0.9, "dev": 0.1, "test": 0.0},
        "ingest": {"gopher_repetition": False, "gopher_quality": False, "fineweb_quality": False, "pii": False}})
    readme = write_card(config, load_language("ita_Latn"), _run(tmp_path), tmp_path / "d", FILES,
                        {"triplets": {"train": 1, "dev": 1}}, CardData())
    text = readme.read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert "source_datasets" not in meta
    for expected in ("passages\nof our product manuals,", "**Source text:** our product manuals",
                     "no\nweb-quality filter", "no PII masking", "it has\nno test split", "| `pairs` | train, dev |",
                     "excerpts of our product manuals and\nkeep their source's terms;"):
        assert expected in text, expected
    for absent in ("c4", "C4", "web text", "beir/test", "FineWeb-2 quality filters"):
        assert absent not in text, absent


def test_card_of_a_web_crawl_names_c4_and_its_filters(tmp_path):
    readme = write_card(config_from_dict({}), load_language("ita_Latn"), _run(tmp_path), tmp_path / "d", FILES,
                        {"triplets": {"train": 1, "test": 1}}, CardData())
    text = readme.read_text()
    assert yaml.safe_load(text.split("---")[1])["source_datasets"] == ["allenai/c4"]
    for expected in ("web text (allenai/c4)", "(Gopher repetition, Gopher quality, FineWeb quality)",
                     "`beir/test/` holds", "ODC-BY 1.0", "the C4 corpus", "| `pairs` | train, dev, test |"):
        assert expected in text, expected
    assert "no PII masking" not in text and "no test split" not in text
