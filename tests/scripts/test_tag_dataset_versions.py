"""scripts/tag_dataset_versions.sh: a clone without tags gets every dataset version's tag back from history."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def commit_card(repo: Path, text: str, message: str) -> str:
    card = repo / "data" / "datasets" / "it_demo" / "README.md"
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def test_each_version_is_tagged_at_the_commit_that_published_it(tmp_path):
    repo = tmp_path / "clone"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "tag_dataset_versions.sh", repo / "scripts")
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    old = commit_card(repo, "# card\n- **Version:** `v0.4.0` (load a fixed version)\n", "v0.4.0, older card")
    new = commit_card(repo, "---\nversion: 0.5.0\n---\n- **Version:** `v0.5.0`\n", "v0.5.0")
    commit_card(repo, "---\nversion: 0.5.0\n---\n- **Version:** `v0.5.0`, typo fixed\n", "card typo")

    out = subprocess.run(["bash", "scripts/tag_dataset_versions.sh"], cwd=repo, check=True, capture_output=True,
                         text=True).stdout
    assert "dataset-it_demo-v0.4.0" in out and "dataset-it_demo-v0.5.0" in out
    assert git(repo, "rev-list", "-n", "1", "dataset-it_demo-v0.4.0") == old
    assert git(repo, "rev-list", "-n", "1", "dataset-it_demo-v0.5.0") == new  # not the later typo fix
    again = subprocess.run(["bash", "scripts/tag_dataset_versions.sh"], cwd=repo, check=True, capture_output=True,
                           text=True).stdout
    assert again == ""  # nothing left to tag
