from __future__ import annotations

import pytest

from pipeline.config import config_from_dict, load_config
from pipeline.errors import ConfigError
from pipeline.languages import available_languages, load_language
from retrieval.config import expand_env


def test_demo_config_loads():
    cfg = load_config()
    assert cfg.run_name == "demo"
    assert cfg.ingest.source.path == "pipeline/data/sample"
    assert cfg.passages.max_tokens == 256


def test_unknown_key_is_named_with_a_suggestion():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"ingest": {"source": {"type": "jsonl", "pth": "x"}}})
    message = str(err.value)
    assert "ingest.source.pth" in message and "did you mean 'path'" in message


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match="unknown key 'pasages'.*'passages'"):
        config_from_dict({"pasages": {}})


def test_bad_values_are_explained():
    with pytest.raises(ConfigError, match="min_tokens .* must be below max_tokens"):
        config_from_dict({"passages": {"min_tokens": 300, "max_tokens": 256}})
    with pytest.raises(ConfigError, match="split fractions must add up to 1"):
        config_from_dict({"split": {"train": 0.9, "dev": 0.1, "test": 0.1}})
    with pytest.raises(ConfigError, match="endpoint_url is empty"):
        config_from_dict({"generate": {"backend": "endpoint"}})


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", "runs\\x"])
def test_run_name_is_a_plain_folder_name(name):
    """The run folder is <output_dir>/<run_name>: a path in the name would write outside output_dir."""
    with pytest.raises(ConfigError, match=r"run_name: .* must be a plain folder name .*put the parent folder in"):
        config_from_dict({"run_name": name})


@pytest.mark.parametrize("url", ["localhost:8000", "127.0.0.1:8000/v1", "ftp://host/v1"])
def test_endpoint_url_must_be_http(url):
    with pytest.raises(ConfigError, match=r"is not an http\(s\) URL: write the server's OpenAI-style base URL"):
        config_from_dict({"generate": {"backend": "endpoint", "endpoint_url": url}})
    assert config_from_dict({"generate": {"backend": "endpoint", "endpoint_url": "https://h:8000/v1"}})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file .*nope.yaml does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(listy)


def test_env_expansion(monkeypatch):
    monkeypatch.setenv("E5_TEST_PATH", "/models/e5")
    monkeypatch.delenv("NOT_SET_VAR", raising=False)
    assert expand_env({"a": "${E5_TEST_PATH:-x}", "b": ["${NOT_SET_VAR:-fallback}"], "c": 3}) == {
        "a": "/models/e5", "b": ["fallback"], "c": 3}


def test_section_hash_tracks_only_named_sections():
    a = config_from_dict({})
    b = config_from_dict({"generate": {"temperature": 0.1}})
    assert a.section_hash("ingest") == b.section_hash("ingest")
    assert a.section_hash("generate") != b.section_hash("generate")


def test_bundled_languages_load():
    assert {"ita_Latn", "spa_Latn"} <= set(available_languages())
    ita = load_language("ita_Latn")
    assert ita.lid["ft176"].label == "it" and ita.quality.line_punct_thr == 0.025
    assert set(ita.prompts.styles) >= {"keywords", "question", "descriptive"}
    assert load_language("spa_Latn").quality.stopwords[0] == "de"


def test_unknown_language_lists_the_bundled_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown language 'xyz_Latn'.*ita_Latn"):
        load_language("xyz_Latn")
    broken = tmp_path / "broken.yaml"
    broken.write_text("code: x\n")
    with pytest.raises(ConfigError, match="language file .* is invalid"):
        load_language(str(broken))


@pytest.mark.parametrize(("round_trip", "message"), [
    ({"bm25_top_k": None}, "no judge besides the base"),
    ({"agree": "all"}, "makes the base model approve every kept query"),
    ({"agree": 2}, "makes the base model approve every kept query"),
])
def test_unbiased_split_needs_a_panel_the_base_does_not_rule(round_trip, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"filter": {"round_trip": round_trip}})
    config_from_dict({"filter": {"round_trip": round_trip}, "split": {"eval_queries": "all"}})  # allowed then


def test_a_language_file_with_a_spacy_code_spacy_lacks(tmp_path):
    from pipeline.languages import LANGUAGES_DIR, spacy_has_language

    assert spacy_has_language("it") and spacy_has_language("xx") and not spacy_has_language("zz")
    bad = tmp_path / "zz_Latn.yaml"
    bad.write_text((LANGUAGES_DIR / "ita_Latn.yaml").read_text(encoding="utf-8").replace("spacy: it", "spacy: zz"))
    with pytest.raises(ConfigError, match=r"spacy: spaCy has no language 'zz'. Fix: use the ISO 639-1 code"):
        load_language(str(bad))

