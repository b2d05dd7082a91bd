"""Pushing the dataset folder to the Hugging Face Hub as a tagged version.

Order of calls: ``create_repo`` (dataset, exist_ok) -> ``list_repo_refs`` (is tag ``v<version>`` taken?) ->
``upload_folder`` (one commit) -> ``create_tag`` on that commit. An existing tag is refused unless forced (then it
is moved to the new commit). The repo id and the token are checked before any network call; a dry run makes none.

Example::

    check_push("me/it-retrieval", dry_run=False)        # ConfigError if malformed or no token
    push_folder(Path("runs/demo/publish/dataset"), "me/it-retrieval", "v1.0.0")
    # {'repo_id': 'me/it-retrieval', 'tag': 'v1.0.0', 'commit': '3f2a...', 'url': 'https://huggingface.co/...'}
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import ConfigError, PipelineError
from pipeline.run_folder import RunFolder

HUB_URL = "https://huggingface.co/datasets"


class PushError(PipelineError):
    """The Hub refused or failed the push (the local dataset folder is untouched)."""


def validate_repo_id(repo_id: str | None) -> str:
    """``<user or org>/<name>`` with the Hub's allowed characters; ConfigError naming the fix otherwise."""
    from huggingface_hub.utils import HFValidationError
    from huggingface_hub.utils import validate_repo_id as hub_validate

    if not repo_id:
        raise ConfigError("no Hub repository to push to: pass --push <user>/<name> or set publish.repo_id")
    if repo_id.count("/") != 1:
        raise ConfigError(f"invalid Hub repo id '{repo_id}': use '<user or org>/<name>', e.g. 'me/it-retrieval'")
    try:
        hub_validate(repo_id)
    except HFValidationError as e:
        raise ConfigError(f"invalid Hub repo id '{repo_id}': {e} Use letters, digits, '-', '_' and '.', "
                          "e.g. 'me/it-retrieval'.") from None
    return repo_id


def hub_token() -> str | None:
    """HF_TOKEN from the environment, else the token saved by ``hf auth login``."""
    from huggingface_hub import get_token

    return os.environ.get("HF_TOKEN") or get_token()


def check_push(repo_id: str | None, dry_run: bool = False) -> str | None:
    """Everything checkable offline, before running stages or calling the Hub; returns the repo id."""
    if dry_run and not repo_id:
        return None
    repo_id = validate_repo_id(repo_id)
    if not dry_run and not hub_token():
        raise ConfigError("no Hugging Face token: set the environment variable HF_TOKEN to a token with write "
                          "access (https://huggingface.co/settings/tokens) or run `hf auth login`; "
                          "--dry-run shows what would be uploaded without one")
    return repo_id


def upload_plan(folder: Path) -> list[tuple[str, int]]:
    """(path in repo, bytes) of every file that would be uploaded."""
    folder = Path(folder)
    return [(p.relative_to(folder).as_posix(), p.stat().st_size) for p in sorted(folder.rglob("*")) if p.is_file()]


def show_plan(folder: Path, repo_id: str | None, tag: str) -> dict:
    """Dry run: print (and return) what a push would upload; no network, no token needed."""
    plan = upload_plan(folder)
    total = sum(size for _, size in plan)
    target = f"{HUB_URL}/{repo_id}" if repo_id else "<no repo id yet: pass --push <user>/<name>>"
    print(f"[publish] dry run: would upload {len(plan)} files ({total / 1e6:.2f} MB) from {folder} to "
          f"{target} and tag the commit {tag}; token {'found' if hub_token() else 'NOT found (set HF_TOKEN)'}")
    for path, size in plan:
        print(f"  {size:>12,}  {path}")
    return {"dry_run": True, "repo_id": repo_id, "tag": tag, "files": [p for p, _ in plan], "bytes": total}


def push_folder(folder: Path, repo_id: str, tag: str, private: bool = False, force: bool = False,
                api=None) -> dict:
    """Create the dataset repo if needed, upload ``folder`` in one commit and tag it; refuse a taken tag."""
    from huggingface_hub import HfApi

    repo_id = check_push(repo_id)
    token = hub_token()
    api = api or HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True, token=token)
        tags = {ref.name for ref in api.list_repo_refs(repo_id, repo_type="dataset", token=token).tags}
        if tag in tags and not force:
            raise ConfigError(f"{repo_id} already has version {tag}: a published version is never overwritten. "
                              "Bump publish.version, or pass --force-push to move the tag to a new commit.")
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", token=token,
                                   commit_message=f"Release {tag}")
        if tag in tags:
            api.delete_tag(repo_id, tag=tag, repo_type="dataset", token=token)
        api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset", token=token,
                       tag_message=f"Dataset version {tag}")
    except PipelineError:
        raise
    except Exception as e:  # noqa: BLE001 - HTTP, auth, network: one message, the local folder is intact
        raise PushError(f"pushing {folder} to {repo_id} failed ({type(e).__name__}: {str(e)[:400]}). The local "
                        "dataset is unchanged; fix the cause (token rights, network, repo name) and rerun with "
                        "--push.") from None
    url = f"{HUB_URL}/{repo_id}"
    print(f"[publish] pushed {folder} to {url} at {tag} (commit {commit.oid[:10]})")
    return {"repo_id": repo_id, "tag": tag, "commit": commit.oid, "url": url}


def prepare_push(config, repo_id: str | None, stage: str, dry_run: bool) -> None:
    """CLI, before any stage runs: --push/--dry-run need the publish stage, a valid repo id and (to push) a token.
    ``--push REPO`` becomes publish.repo_id, so the card names the repository it is pushed to."""
    if stage not in ("publish", "all"):
        raise ConfigError(f"--push/--dry-run upload the published dataset, but --stage {stage} stops before it: "
                          "use --stage publish (or all)")
    if repo_id:
        config.publish.repo_id = repo_id
    check_push(config.publish.repo_id, dry_run)


def push_release(config, force: bool = False, dry_run: bool = False, api=None) -> dict:
    """Push (or, dry run, list) the run's published folder as version ``config.publish.tag``."""
    folder = RunFolder(config.run_dir).path("publish.dataset")
    if not (folder / "README.md").is_file():
        raise ConfigError(f"{folder} holds no published dataset: run `python -m pipeline.run --stage publish` first")
    if dry_run:
        return show_plan(folder, config.publish.repo_id, config.publish.tag)
    return push_folder(folder, config.publish.repo_id, config.publish.tag, private=config.publish.private,
                       force=force, api=api)
