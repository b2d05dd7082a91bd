"""Reading a published dataset (retrieval/dataset.py): a split it lacks is named, with the splits it has."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.dataset import describe_dataset, load_split
from retrieval.errors import DatasetError


def test_a_split_the_dataset_lacks_names_the_ones_it_has(fixture_dataset: Path) -> None:
    source = describe_dataset(str(fixture_dataset))
    with pytest.raises(DatasetError) as err:
        load_split(source, "queries", "validation")
    message = str(err.value)
    assert "config 'queries' of dataset" in message and "has no split 'validation'" in message
    assert "['train', 'dev', 'test']" in message and "Fix: name one of them (eval.run: --split" in message
