"""What the card says, gathered from the run: every stage's stats.json, the config, the published rows.

Example (a finished run)::

    stats = read_stage_stats(Path("runs/demo"))
    drop_rows(stats)[:2]   # [('ingest', 'language', 120), ('ingest', 'gopher_quality', 31)]
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

from pipeline.run_folder import STAGES, STATS

# stats keys holding {reason: count} per stage, with the unit they count
DROP_KEYS = {"ingest": [("dropped", "documents")], "generate": [("replies_dropped", "replies"),
             ("queries_dropped", "queries")], "filter": [("dropped", "queries")], "mine": [("dropped", "negatives")]}


REASONS = {"guard_dense": "false-negative guard (dense)", "guard_bm25": "false-negative guard (BM25)",
           "same_document": "same document as the positive", "judge": "LLM judge: answers the query",
           "positive_not_in_corpus": "positive missing from the corpus"}


def clean_reason(reason: str) -> str:
    """A readable reason: our labels for mine's keys; datatrove step names without emoji and "🔻 - FILTER:".

    >>> clean_reason("🔻 - FILTER: 🍷 FineWeb Quality")
    'FineWeb Quality'
    """
    if reason in REASONS:
        return REASONS[reason]
    text = "".join(ch for ch in reason if unicodedata.category(ch) != "So")
    text = re.sub(r"^\W*-?\s*(FILTER|DEDUP|FORMAT)\s*:\s*", "", text.strip())
    return " ".join(text.split()) or reason


def read_stage_stats(run_dir: Path) -> dict[str, dict]:
    """stage -> its stats.json ({} for a stage without one)."""
    out = {}
    for stage in STAGES[:-1]:  # publish is being written
        path = Path(run_dir) / stage / STATS
        out[stage] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return out


def drop_rows(stats: dict[str, dict]) -> list[tuple[str, str, int]]:
    """(stage, reason, count) of everything a filter removed, in pipeline order, largest first per stage."""
    rows = []
    for stage, keys in DROP_KEYS.items():
        for key, unit in keys:
            found = stats.get(stage, {}).get(key) or {}
            if isinstance(found, dict):
                label = f"{stage} ({unit})"
                rows += [(label, clean_reason(reason), int(n))
                         for reason, n in sorted(found.items(), key=lambda kv: -kv[1]) if isinstance(n, int) and n]
    leak = stats.get("split", {}).get("negatives_dropped_leak")
    if leak:
        rows.append(("split (negatives)", "held-out positive or near-duplicate", int(leak)))
    return rows


def model_label(model: str) -> str:
    """A model id as users know it: a Hub id as is, a local folder by its name (its path means nothing to them)."""
    path = Path(model).expanduser()
    return f"{path.name} (local copy)" if path.exists() else model


def llm_label(config, served_name: str, llm_file: str | None = None) -> str:
    """The query writer as users can find it: with a local llama.cpp backend the served name is only an alias, so the
    GGUF file is added (as recorded by the generate stage, else as configured: local name or Hub repo/file)."""
    gen = config.generate
    if gen.backend not in ("llamacpp", "llama-server"):
        return served_name
    gguf = llm_file or (Path(gen.llamacpp.model_path).name if gen.llamacpp.model_path else
                        f"{gen.llamacpp.hub_repo}/{gen.llamacpp.hub_file}")
    return f"{served_name} ({gguf})" if served_name not in gguf else gguf


def source_datasets(config) -> list[str]:
    """Card metadata: publish.source_datasets, else none for a described collection of one's own
    (publish.source_description), else the Hub dataset ingested, else allenai/c4."""
    if config.publish.source_datasets:
        return list(config.publish.source_datasets)
    if config.publish.source_description:
        return []
    source = config.ingest.source
    return [source.hub_dataset] if source.type == "hub" else ["allenai/c4"]


def quality_filters(config) -> list[str]:
    """The web-quality filters the ingest stage ran (an adaptation to a curated collection runs none)."""
    ing = config.ingest
    named = [(ing.gopher_repetition, "Gopher repetition"), (ing.gopher_quality, "Gopher quality"),
             (ing.fineweb_quality, "FineWeb quality")]
    return [name for on, name in named if on]


def citation(config, year: int) -> str:
    key = config.publish.citation_key
    repo = config.publish.repo_id or "<user>/<repo>"
    return (f"@misc{{{key},\n  title = {{{config.publish.pretty_name}}},\n  year = {{{year}}},\n"
            f"  note = {{Version {config.publish.tag}}},\n"
            f"  howpublished = {{\\url{{https://huggingface.co/datasets/{repo}}}}}\n}}")


def card_context(config, language, stats: dict[str, dict], counts: dict[str, dict[str, int]],
                 plots: list, files: dict[str, dict[str, str]]) -> dict:
    """Everything the Jinja2 template reads."""
    year = dt.date.today().year
    sources = source_datasets(config)
    return {
        "pretty_name": config.publish.pretty_name, "version": config.publish.version, "tag": config.publish.tag,
        "repo_id": config.publish.repo_id or "<user>/<repo>", "license": config.publish.license,
        "language_name": language.name, "iso": language.iso_639_1, "source_datasets": sources,
        "web_source": not config.publish.source_description,
        "source_text": config.publish.source_description or ", ".join(sources),
        "quality_filters": quality_filters(config), "pii": config.ingest.pii,
        "has_test": bool(config.split.test),
        "split_names": ", ".join(s for s in ("train", "dev", "test") if s != "test" or config.split.test),
        "stats": stats, "counts": counts, "files": files, "plots": plots, "drops": drop_rows(stats),
        "mine": config.mine, "split": config.split, "generate": config.generate, "filter": config.filter,
        "seed": config.seed, "mining_model": model_label(config.mine.model),
        "llm_model": llm_label(config, stats.get("generate", {}).get("model") or config.generate.model,
                               stats.get("generate", {}).get("llm_file")),
        "prompt_hash": stats.get("generate", {}).get("prompt_hash", "n/a"),
        "num_negatives": config.mine.num_negatives, "citation": citation(config, year), "year": year,
    }
