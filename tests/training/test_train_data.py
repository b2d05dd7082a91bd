"""Reading the published dataset: triplet columns, dev IR set, version, and clear errors for bad datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from retrieval.dataset import describe_dataset, negative_columns
from retrieval.errors import DatasetError
from training.data import load_ir_split, load_triplets


def test_triplets_keep_only_text_columns(fixture_dataset: Path) -> None:
    ds = load_triplets(describe_dataset(str(fixture_dataset)))
    assert ds.column_names == ["query", "positive", "negative_1", "negative_2", "negative_3"]
    assert len(ds) == 48 * 3
    two = load_triplets(describe_dataset(str(fixture_dataset)), num_negatives=2, max_samples=10)
    assert two.column_names == ["query", "positive", "negative_1", "negative_2"] and len(two) == 10


def test_negative_columns_numeric_order() -> None:
    cols = ["query", "negative_10", "negative_2", "negative_1", "negatives"]
    assert negative_columns(cols) == ["negative_1", "negative_2", "negative_10"]
    assert negative_columns(cols, 2) == ["negative_1", "negative_2"]


def test_version_read_from_card(fixture_dataset: Path) -> None:
    source = describe_dataset(str(fixture_dataset))
    assert source.is_local and source.version == "0.0.1-test"
    assert "0.0.1-test" in source.display_name and str(fixture_dataset) in source.display_name


def test_dev_ir_split_subsamples_but_keeps_positives(fixture_dataset: Path) -> None:
    ir = load_ir_split(describe_dataset(str(fixture_dataset)), "dev", max_queries=10, max_corpus=15, seed=1)
    assert len(ir.queries) == 10 and len(ir.corpus) == 15
    assert all(docs <= ir.corpus.keys() for docs in ir.relevant_docs.values())


def test_missing_column_names_file_and_column(fixture_dataset: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(fixture_dataset, broken)
    for split in ("train", "dev", "test"):  # a dataset published before hard-negative mining
        df = pd.read_parquet(broken / "triplets" / f"{split}.parquet")
        df = df.drop(columns=[c for c in df.columns if c.startswith("negative_")])
        df.to_parquet(broken / "triplets" / f"{split}.parquet", index=False)
    path = broken / "triplets" / "train.parquet"
    with pytest.raises(DatasetError) as err:
        load_triplets(describe_dataset(str(broken)))
    message = str(err.value)
    assert "negative_1" in message and str(path) in message and "Fix:" in message


def test_missing_config_is_named(fixture_dataset: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(fixture_dataset, partial)
    readme = (partial / "README.md").read_text(encoding="utf-8")
    (partial / "README.md").write_text(readme.replace("config_name: queries", "config_name: questions"), "utf-8")
    with pytest.raises(DatasetError, match="config 'queries'"):
        load_ir_split(describe_dataset(str(partial)), "dev")


def test_missing_folder() -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        describe_dataset("./runs/no/such/dataset")


def test_version_from_pipeline_card_body(tmp_path: Path) -> None:
    """The pipeline's card puts the version in its body (``- **Version:** `v1.0.0```), not in the YAML."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "README.md").write_text(
        "---\npretty_name: It triplets\nlicense: cc-by-4.0\n---\n# It triplets\n\n- **Version:** `v1.2.0` (load...)\n",
        encoding="utf-8",
    )
    source = describe_dataset(str(folder))
    assert source.version == "v1.2.0" and source.display_name == f"It triplets ({folder}) version v1.2.0"


def test_a_dataset_in_another_format_version_is_refused(fixture_dataset, tmp_path):
    """The card's retrieval_schema_version names the published format; training and evaluation refuse another."""
    import shutil

    from eval.sets import resolve_set
    from retrieval.dataset import SCHEMA_KEY, SCHEMA_VERSION, read_card_metadata

    copy = tmp_path / "future"
    shutil.copytree(fixture_dataset, copy)
    readme = copy / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    readme.write_text(f"---\n{SCHEMA_KEY}: {SCHEMA_VERSION + 1}\n" + text[4:], encoding="utf-8")
    assert read_card_metadata(copy)[SCHEMA_KEY] == SCHEMA_VERSION + 1
    with pytest.raises(DatasetError, match=r"version 2 of the published format.*--force"):
        describe_dataset(str(copy))
    with pytest.raises(DatasetError, match="reads version 1"):
        resolve_set(str(copy))


def test_triplets_of_some_styles_and_without_negatives(fixture_dataset: Path) -> None:
    source = describe_dataset(str(fixture_dataset))
    assert load_triplets(source, num_negatives=0).column_names == ["query", "positive"]
    assert len(load_triplets(source, styles=["keywords"])) == 48 * 3
    with pytest.raises(DatasetError, match=r"style\(s\) \['question'\]; its styles are \['keywords'\]"):
        load_triplets(source, styles=["question"])
