"""publish stage: the dataset folder loads with ``datasets.load_dataset`` for every config; the push path is
exercised against a recorder standing in for the Hub API (no network)."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset

from pipeline.errors import ConfigError
from pipeline.publishing import hub
from pipeline.run import main
from pipeline.stages.publish import PublishStage
from pipeline.stages.split import SplitStage
from tests.pipeline.tiny_st import make_run_config, write_mine_run

COLUMNS = {
    "triplets": ["query_id", "query", "positive_id", "positive", "negative_1", "negative_2", "negative_3", "style",
                 "negative_scores", "negative_ids", "negative_sources"],
    "pairs": ["query_id", "query", "passage_id", "passage", "style"],
    "corpus": ["_id", "title", "text"],
    "queries": ["_id", "text"],
    "qrels": ["query-id", "corpus-id", "score"],
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    config = make_run_config(tmp_path_factory.mktemp("publish"), "unused",
                             split={"train": 0.6, "dev": 0.2, "test": 0.2}, publish={"version": "1.2.0"})
    write_mine_run(config.run_dir)
    SplitStage(config).run()
    stats = PublishStage(config).run()
    return config, stats, config.run_dir / "publish" / "dataset"


@pytest.mark.parametrize("name", list(COLUMNS))
def test_every_config_loads(published, name, tmp_path):
    _, stats, folder = published
    data = load_dataset(str(folder), name, cache_dir=str(tmp_path / "cache"))
    expected_splits = ["corpus"] if name == "corpus" else ["train", "dev", "test"]
    assert sorted(data) == sorted(expected_splits)
    for split in expected_splits:
        assert data[split].column_names == COLUMNS[name]
        assert len(data[split]) == stats["counts"][name][split] > 0
    if name == "qrels":
        assert data["test"].features["score"].dtype == "int64"


def test_triplet_rows(published):
    _, _, folder = published
    rows = pq.read_table(folder / "triplets" / "train.parquet").to_pylist()
    split = {r["query_id"]: r for r in pq.read_table(folder.parent.parent / "split" / "train.parquet").to_pylist()}
    assert rows and len(rows) == sum(len(r["negatives"]) >= 3 for r in split.values())
    for row in rows:
        assert all(isinstance(row[f"negative_{i}"], str) and row[f"negative_{i}"] for i in (1, 2, 3))
        assert len(row["negative_scores"]) == len(row["negative_ids"]) == 3
        assert row["negative_ids"] == [n["passage_id"] for n in split[row["query_id"]]["negatives"][:3]]
        assert row["positive_id"] not in row["negative_ids"]


def test_card_metadata_plots_and_beir(published):
    config, _, folder = published
    text = (folder / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["language"] == ["it"] and meta["license"] == "cc-by-4.0"
    assert meta["task_categories"] == ["sentence-similarity", "text-retrieval"]
    assert meta["source_datasets"] == ["allenai/c4"] and meta["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in meta["configs"]] == list(COLUMNS)
    assert meta["retrieval_schema_version"] == 1 and meta["version"] == "1.2.0"  # what readers check
    for plot in ("passage_lengths", "query_lengths", "query_styles", "negative_scores", "drops"):
        assert (folder / "plots" / f"{plot}.png").stat().st_size > 1000
        assert f"(plots/{plot}.png)" in text
    assert "abc123" in text and "tiny-llm" in text and "v1.2.0" in text  # prompt hash, LLM, version
    assert "| filter (queries) | round_trip | 4 |" in text  # a filter's number, from its stats.json
    assert (folder / "beir" / "test" / "qrels" / "test.tsv").is_file()


class RecorderApi:
    """Stands in for huggingface_hub.HfApi: records calls, holds tags."""

    def __init__(self, tags=()):
        self.calls, self.tags = [], list(tags)

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def list_repo_refs(self, repo_id, **kw):
        self.calls.append(("list_repo_refs", repo_id, kw))
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags])

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw["repo_id"], kw))
        return SimpleNamespace(oid="c0ffee" * 6)

    def delete_tag(self, repo_id, **kw):
        self.calls.append(("delete_tag", repo_id, kw))

    def create_tag(self, repo_id, **kw):
        self.calls.append(("create_tag", repo_id, kw))


@pytest.fixture()
def token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")


def test_push_creates_uploads_and_tags(published, token):
    config, _, folder = published
    config = config.model_copy(deep=True)
    config.publish.repo_id = "me/it-retrieval"
    api = RecorderApi(tags=["v1.0.0"])
    result = hub.push_release(config, api=api)
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_refs", "upload_folder", "create_tag"]
    create, _, upload, tag = (c[2] for c in api.calls)
    assert create["repo_type"] == "dataset" and create["exist_ok"] is True
    assert upload["folder_path"] == str(folder) and upload["repo_type"] == "dataset"
    assert tag == {"tag": "v1.2.0", "revision": "c0ffee" * 6, "repo_type": "dataset", "token": "hf_test",
                   "tag_message": "Dataset version v1.2.0"}
    assert result["url"] == "https://huggingface.co/datasets/me/it-retrieval"


def test_existing_version_is_refused_unless_forced(published, token):
    config, _, _ = published
    api = RecorderApi(tags=["v1.2.0"])
    with pytest.raises(ConfigError, match="already has version v1.2.0.*--force-push"):
        hub.push_folder(config.run_dir / "publish" / "dataset", "me/it-retrieval", "v1.2.0", api=api)
    assert "upload_folder" not in [c[0] for c in api.calls]
    api = RecorderApi(tags=["v1.2.0"])
    hub.push_folder(config.run_dir / "publish" / "dataset", "me/it-retrieval", "v1.2.0", force=True, api=api)
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_refs", "upload_folder", "delete_tag",
                                         "create_tag"]


def test_dry_run_lists_files_without_network(published, capsys, monkeypatch):
    config, _, _ = published
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "hub_token", lambda: None)
    plan = hub.push_release(config, dry_run=True, api=object())  # any call on the api would fail
    assert "README.md" in plan["files"] and "triplets/train.parquet" in plan["files"]
    assert "would upload" in capsys.readouterr().out


@pytest.mark.parametrize("repo_id", ["no-namespace", "me/bad name", "a/b/c", "me/--x"])
def test_bad_repo_id_is_refused(repo_id):
    with pytest.raises(ConfigError, match="invalid Hub repo id"):
        hub.check_push(repo_id)


def test_missing_token_is_refused_before_any_call(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "hub_token", lambda: None)
    with pytest.raises(ConfigError, match="HF_TOKEN"):
        hub.check_push("me/it-retrieval")


def test_cli_checks_push_before_running_stages(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "hub_token", lambda: None)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'runs'}\n")
    assert main(["--config", str(cfg), "--push", "not a repo"]) == 2
    assert "invalid Hub repo id" in capsys.readouterr().err
    assert main(["--config", str(cfg), "--push", "me/it-retrieval"]) == 2
    assert "HF_TOKEN" in capsys.readouterr().err
    assert main(["--config", str(cfg), "--stage", "mine", "--push", "me/it-retrieval"]) == 2
    assert "--stage publish" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_new_settings_republish_without_force(tmp_path):
    config = make_run_config(tmp_path, "unused", split={"train": 0.6, "dev": 0.2, "test": 0.2})
    write_mine_run(config.run_dir)
    SplitStage(config).run()
    PublishStage(config).run()
    renamed = make_run_config(tmp_path, "unused", split={"train": 0.6, "dev": 0.2, "test": 0.2},
                              publish={"pretty_name": "Renamed", "source_description": "our manuals"})
    PublishStage(renamed).run()  # no 'made with a different config' refusal: publishing again loses nothing
    card = (renamed.run_dir / "publish" / "dataset" / "README.md").read_text()
    assert "# Renamed" in card and "our manuals" in card
