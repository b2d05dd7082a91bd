"""What every stage shares: its folder in the run, skip-when-done, config-compatibility checks, statistics.

A stage writes everything under ``runs/<run_name>/<stage>/`` and reads its inputs through ``self.folder``
(pipeline/run_folder.py names every file, its columns and which stage may read it). When it finishes it writes
``_SUCCESS.json`` with the hash of the config that shaped it (its own sections plus its upstream stage's hash) and
its statistics; a rerun skips it. A stage killed half-way leaves ``_STARTED.json`` (same hash), and resumes from its
partial output. A stage whose upstream output changed is redone (cheap stages) or refused until --force
(expensive ones: generate). Output made with other settings is refused until --force, except publish's, which is
redone (``redo_on_new_settings``: its dataset folder is rebuilt from split's output in seconds).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pipeline.config import PipelineConfig
from pipeline.errors import StageError
from pipeline.languages import LanguageSpec, load_language
from pipeline.run_folder import STARTED, STATS, SUCCESS, RunFolder, read_marker, upstream_of, write_marker


class Stage(ABC):
    """One step of the pipeline. Subclasses set ``name``, ``config_sections`` and write ``process``; what a stage
    reads, and so its upstream stage, is declared in ``pipeline.run_folder.INPUTS``."""

    name: ClassVar[str]
    config_sections: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: PipelineConfig):
        self.config = config
        self.run_dir = config.run_dir
        self.folder = RunFolder(self.run_dir, reader=self.name)
        self.dir = self.folder.stage_dir(self.name)
        self._language: LanguageSpec | None = None

    @property
    def language(self) -> LanguageSpec:
        if self._language is None:
            self._language = load_language(self.config.language)
        return self._language

    @property
    def upstream(self) -> str | None:
        return upstream_of(self.name)

    @property
    def upstream_dir(self) -> Path:
        assert self.upstream is not None
        return self.folder.stage_dir(self.upstream)

    # ----------------------------------------------------------------- state
    expensive: ClassVar[bool] = False  # never discard this stage's output without --force
    # output only derived from upstream by cheap, deterministic work (publish): changed settings redo it, as a changed
    # upstream does, instead of refusing; nothing is lost, and a user who renames the dataset needs no --force
    redo_on_new_settings: ClassVar[bool] = False

    def config_hash(self) -> str:
        """Hash of the config sections that shape this stage's output."""
        return self.config.section_hash(*self.config_sections)

    def upstream_fingerprint(self) -> str | None:
        if self.upstream is None:
            return None
        up = read_marker(self.upstream_dir)
        return up["fingerprint"] if up else None

    def is_done(self) -> bool:
        marker = read_marker(self.dir)
        return (marker is not None and marker["config_hash"] == self.config_hash()
                and marker.get("upstream") == self.upstream_fingerprint() and self.extent_done(marker["stats"]))

    def extent_done(self, stats: dict) -> bool:
        """Whether finished output covers what the config asks for (generate grows when max_passages grows)."""
        return True

    def check_upstream(self) -> None:
        if self.upstream and read_marker(self.upstream_dir) is None:
            raise StageError(
                f"stage '{self.name}' needs the output of stage '{self.upstream}', which has not finished in "
                f"{self.run_dir}. Run `python -m pipeline.run --stage {self.upstream}` first (or `--stage all`)."
            )

    def _check_compatible(self) -> None:
        """Refuse output made by another config; redo cheap stages whose upstream output changed."""
        for marker_name in (SUCCESS, STARTED):
            path = self.dir / marker_name
            if not path.is_file():
                continue
            found = json.loads(path.read_text())
            what = "finished" if marker_name == SUCCESS else "partial"
            if found["config_hash"] != self.config_hash() and self.redo_on_new_settings:
                print(f"[{self.name}] its settings changed: redoing this stage")
                shutil.rmtree(self.dir)
                return
            if found["config_hash"] != self.config_hash():
                raise StageError(
                    f"{self.dir} holds {what} output of stage '{self.name}' made with a different config "
                    f"(hash {found['config_hash']}, now {self.config_hash()}). Rerun with --force to redo this stage "
                    f"(later stages are then redone too), or use another run_name / --output-dir to keep both."
                )
            if found.get("upstream") != self.upstream_fingerprint():
                if self.expensive:
                    raise StageError(
                        f"the output of stage '{self.upstream}' changed since stage '{self.name}' used it "
                        f"({self.dir} holds {what} output). Rerun with --stage {self.name} --force to redo it."
                    )
                print(f"[{self.name}] the output of '{self.upstream}' changed: redoing this stage")
                shutil.rmtree(self.dir)
            return

    # ------------------------------------------------------------------- run
    def run(self, force: bool = False) -> dict[str, Any]:
        """Run the stage unless it is already done; return its statistics."""
        self.check_upstream()
        if force and self.dir.exists():
            shutil.rmtree(self.dir)
        self._check_compatible()
        if self.is_done():
            stats = read_marker(self.dir)["stats"]
            print(f"[{self.name}] already done in {self.dir} (use --force to redo): {self.summary(stats)}")
            return stats
        self.preflight()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / STARTED).write_text(json.dumps({"config_hash": self.config_hash(),
                                                    "upstream": self.upstream_fingerprint()}))
        start = time.time()
        stats = self.process()
        stats["seconds"] = round(time.time() - start, 1)
        (self.dir / STATS).write_text(json.dumps(stats, indent=2, ensure_ascii=False))
        own, up = self.config_hash(), self.upstream_fingerprint()
        fingerprint = hashlib.sha256(json.dumps([own, up, stats.get("rows")]).encode()).hexdigest()[:16]
        write_marker(self.dir, {"stage": self.name, "config_hash": own, "upstream": up, "fingerprint": fingerprint,
                                "stats": stats})
        print(f"[{self.name}] done in {stats['seconds']}s: {self.summary(stats)}")
        return stats

    def preflight(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Checks that need no output (models load, inputs exist): a failure here leaves no partial stage behind,
        so fixing the config and rerunning is not refused as 'made with a different config'."""

    @abstractmethod
    def process(self) -> dict[str, Any]:
        """Do the stage's work, resuming from partial output; return JSON-serialisable statistics."""

    def summary(self, stats: dict[str, Any]) -> str:
        """One line for the console; stages override to show what matters."""
        keys = ("documents_in", "kept", "rows")
        return ", ".join(f"{k}={stats[k]}" for k in keys if k in stats) or "see stats.json"


def format_drops(dropped: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items(), key=lambda kv: -kv[1]) if n) or "none"
