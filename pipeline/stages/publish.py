"""publish: the split triplets -> a Hugging Face dataset repository folder, loadable with ``load_dataset``.

Output ``runs/<name>/publish/dataset/``: Parquet per config and split (pipeline.publishing.folder: triplets,
pairs, corpus, queries, qrels), ``beir/test/`` (copied from split), ``plots/*.png`` and ``README.md`` (YAML
metadata with ``configs``/``data_files`` + the card from dataset_card/). Pushing to the Hub is separate
(``--push``, pipeline.publishing.hub) so a finished folder can be pushed, or re-pushed, without redoing it.

Example (after a run)::

    from datasets import load_dataset
    load_dataset("runs/demo/publish/dataset", "triplets", split="train")
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dataset_card import CardData, write_card
from pipeline.atomic import atomic_path
from pipeline.errors import ConfigError, InputDataError, StageError
from pipeline.publishing.folder import write_configs
from pipeline.run_folder import BATCH_ROWS, SPLITS
from pipeline.stages.base import Stage


class PublishStage(Stage):
    name = "publish"
    config_sections = ("publish",)
    redo_on_new_settings = True  # the dataset folder and card are rebuilt from split's output in seconds
    batch_rows = BATCH_ROWS  # rows per read batch and written row group

    @property
    def dataset_dir(self):
        return self.folder.path("publish.dataset")

    def _split_batches(self, split: str, columns: tuple[str, ...] | None = None):
        return self.folder.batches("split.triplets", split=split, columns=columns, batch_rows=self.batch_rows,
                                   allow_empty=split != "train")

    def _passage_batches(self, columns: tuple[str, ...] | None = None):
        return self.folder.batches("filter.passages", columns=columns, batch_rows=self.batch_rows)

    def process(self) -> dict[str, Any]:
        beir = self.folder.path("split.beir")
        if not (beir / "test" / "corpus.jsonl").is_file():
            raise InputDataError(f"{beir / 'test'} is missing or incomplete: rerun `python -m pipeline.run --stage "
                                 "split --force`.")
        if self.dataset_dir.exists():  # a half-written folder from an interrupted run: rebuild it whole
            shutil.rmtree(self.dataset_dir)
        self.dataset_dir.mkdir(parents=True)
        # every input is streamed in batches (memory holds one batch, issue "C4 scale"); the card reads the
        # columns it plots in a second pass rather than the configs' writer feeding it
        files = write_configs({s: self._split_batches(s) for s in SPLITS}, self._passage_batches(),
                              self.dataset_dir, self.config.mine.num_negatives)
        if "train" not in files["triplets"]:
            raise StageError(f"no training triplets: no train query kept {self.config.mine.num_negatives} "
                             "negatives (see mine/stats.json 'dropped' and split/stats.json). Raise mine.range_max "
                             "or mine.spare_negatives, lower mine.num_negatives or mine.relative_margin, or use "
                             "mine.method: hybrid; then rerun from --stage mine.")
        shutil.copytree(beir, self.dataset_dir / "beir")
        counts = {name: {split: pq.read_metadata(self.dataset_dir / path).num_rows for split, path in splits.items()}
                  for name, splits in files.items()}
        data = CardData(seed=self.config.seed)
        for split in SPLITS:
            for rows in self._split_batches(split, ("query_id", "query", "style", "positive_score", "negatives")):
                data.add_rows(split, rows)
        for passages in self._passage_batches(self._passage_columns()):
            data.add_passages(passages)
        readme = write_card(self.config, self.language, self.run_dir, self.dataset_dir, files, counts, data)
        exported = self._export()
        # pairs hold every query of a split, triplets only those with k negatives
        short = {s: counts["pairs"].get(s, 0) - counts["triplets"].get(s, 0) for s in SPLITS}
        return {"rows": sum(counts["triplets"].values()), "counts": counts, "folder": str(self.dataset_dir),
                "queries_without_k_negatives": short,
                "readme": str(readme), "version": self.config.publish.version, "tag": self.config.publish.tag,
                "exported_to": exported,
                "plots": sorted(p.name for p in (self.dataset_dir / "plots").glob("*.png"))}

    def _passage_columns(self) -> tuple[str, ...]:
        """n_tokens for the length plot where the passages carry it, else the text (counted in words)."""
        names = self.folder.schema("filter.passages").names
        return ("n_tokens", "text") if "n_tokens" in names else ("text",)

    def config_hash(self) -> str:
        # where the folder is also copied does not change what is published
        section = self.config.publish.model_dump(mode="json", exclude={"export_dir"})
        payload = [section, self.config.language, self.config.seed]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def _export(self) -> str | None:
        """Copy the dataset folder to ``publish.export_dir`` (replacing what was there): a copy that lives in
        the user's project, loadable with ``load_dataset(<export_dir>, "triplets")``."""
        target = self.config.publish.export_dir
        if not target:
            return None
        target = Path(target)
        if target.resolve() == self.dataset_dir.resolve() or self.dataset_dir.resolve() in target.resolve().parents:
            raise ConfigError(f"publish.export_dir ({target}) must lie outside the run's dataset folder")
        with atomic_path(target) as tmp:
            shutil.copytree(self.dataset_dir, tmp)
        # the tag is named after the folder, as scripts/tag_dataset_versions.sh names it from history
        print(f"[publish] dataset copied to {target}; keep it with `git add {target}` and, once committed, mark the "
              f"version with `git tag dataset-{target.name}-{self.config.publish.tag}`")
        return str(target)

    def summary(self, stats: dict[str, Any]) -> str:
        triplets = ", ".join(f"{s} {n}" for s, n in stats["counts"]["triplets"].items())
        return (f"{stats['folder']} (version {stats['tag']}): triplets {triplets}; corpus "
                f"{stats['counts']['corpus']['corpus']} passages")

