"""The evaluation section of a model's card: ``python -m eval.run ... --card NAME`` writes the run's tables into the
README.md of model NAME's folder, so the model states its own figures next to the base and BM25.

The section sits between two HTML comments and replaces an earlier one on a rerun; the rest of the card (what
sentence-transformers wrote at training time, or anything else) is kept as it was.

Example:
    >>> text = with_section("# my model\\n", "## Evaluation\\nNDCG@10 80.1\\n")
    >>> with_section(text, "## Evaluation\\nNDCG@10 81.4\\n").count("## Evaluation")
    1
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from eval.report import markdown

BEGIN = "<!-- eval.run results: written by `python -m eval.run --card`; a rerun replaces this section -->"
END = "<!-- /eval.run results -->"


def card_section(report: dict[str, Any], model: str, argv: list[str] | None = None) -> str:
    """Markdown: the run's tables (every model of the run, so the comparison stays in view) and its command."""
    tables = markdown(report).split("\n", 2)[2]  # without the report's own title
    command = "python -m eval.run " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    created = report.get("created", "")
    return (f"## Evaluation (`eval.run`, {created[:10]})\n\nThis model is `{model}` in the tables below, measured in "
            f"the same run as the others.\n\n{tables.replace(chr(10) + '## ', chr(10) + '### ')}\n"
            f"Command:\n\n```bash\n{command}\n```\n")


def with_section(card: str, section: str) -> str:
    """``card`` with the evaluation section set to ``section`` (replaced if present, else appended)."""
    block = f"{BEGIN}\n{section.rstrip()}\n{END}\n"
    start, end = card.find(BEGIN), card.find(END)
    if start != -1 and end > start:
        return card[:start] + block + card[end + len(END):].lstrip("\n")
    return card.rstrip("\n") + ("\n\n" if card.strip() else "") + block


def write_card(folder: Path, section: str) -> Path:
    path = Path(folder) / "README.md"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    path.write_text(with_section(old, section), encoding="utf-8")
    return path
