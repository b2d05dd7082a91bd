"""A reading sheet for a published dataset: random (passage, query) pairs and random mined negatives, as Markdown
with a blank verdict line under each, so that a person can judge what the pipeline made (``python -m
dataset_card.review``).

The numbers that matter for synthetic retrieval data are not in the statistics: whether a query is one a person
would type to find its passage (answerable from it, nothing invented), and whether a "negative" in fact answers
the query (a false negative teaches the model the wrong thing). Only reading a random sample tells; this draws
one reproducibly (``--seed``) from any published folder or Hub id.

Example::

    python -m dataset_card.review data/datasets/it_corpus --pairs 50 --negatives 30 --out review.md
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from retrieval.cli import cli_main
from retrieval.dataset import describe_dataset, load_split, negative_columns, require_columns
from retrieval.errors import ConfigError

VERDICT = "verdict: "


def clip(text: str, chars: int) -> str:
    """``text`` on one line, cut at a word boundary near ``chars`` characters (0: whole)."""
    flat = " ".join(text.split())
    if not chars or len(flat) <= chars:
        return flat
    return flat[:chars].rsplit(" ", 1)[0] + " …"


def pair_sheet(rows: list[dict], chars: int) -> list[str]:
    """One block a pair: query and style, then its passage."""
    lines = []
    for n, row in enumerate(rows, 1):
        lines += [f"### P{n} · {row.get('style') or '-'} · `{row['query_id']}`", "",
                  f"**query:** {row['query']}", "", f"> {clip(row['passage'], chars)}", "", VERDICT, ""]
    return lines


def negative_sheet(rows: list[tuple[dict, int]], chars: int) -> list[str]:
    """One block a mined negative: its query, the positive, then the negative with its score and source."""
    lines = []
    for n, (row, k) in enumerate(rows, 1):
        scores, sources = row.get("negative_scores") or [], row.get("negative_sources") or []
        about = [f"rank {k}"]
        if k <= len(scores):
            about.append(f"score {scores[k - 1]:.3f}")
        if k <= len(sources):
            about.append(f"from {sources[k - 1]}")
        negative = clip(row[f"negative_{k}"], chars)
        lines += [f"### N{n} · `{row['query_id']}` · {', '.join(about)}", "", f"**query:** {row['query']}", "",
                  f"positive: {clip(row['positive'], chars)}", "", f"**negative:** {negative}", "",
                  VERDICT + "(does the negative answer the query?)", ""]
    return lines


def review(dataset: str, split: str = "test", pairs: int = 50, negatives: int = 30, seed: int = 0, chars: int = 600,
           revision: str | None = None) -> str:
    """The Markdown reading sheet (see the module docstring)."""
    if pairs < 0 or negatives < 0 or (pairs == 0 and negatives == 0):
        raise ConfigError("nothing to draw: --pairs and --negatives are both 0 or negative. Fix: e.g. --pairs 50.")
    source = describe_dataset(dataset, revision)
    rng = random.Random(seed)
    title = f"# Reading sheet: {source.display_name}, split {split} (seed {seed})"
    lines = [title, "", "Verdicts: a query a person would type to find this passage, answerable from it, nothing "
             "invented (pairs); a negative that does not answer the query (negatives).", ""]
    if pairs:
        ds = load_split(source, "pairs", split)
        require_columns(ds, ("query_id", "query", "passage"), f"config 'pairs' split {split!r}")
        picked = sorted(rng.sample(range(len(ds)), min(pairs, len(ds))))
        lines += [f"## {len(picked)} random pairs of {len(ds)}", ""] + pair_sheet([ds[i] for i in picked], chars)
    if negatives:
        ds = load_split(source, "triplets", split)
        require_columns(ds, ("query_id", "query", "positive", "negative_1"), f"config 'triplets' split {split!r}")
        names = negative_columns(ds.column_names)
        slots = [(i, int(name.split("_")[1])) for i, row in enumerate(ds.select_columns(names)) for name in names
                 if row[name]]
        picked = sorted(rng.sample(slots, min(negatives, len(slots))))
        lines += [f"## {len(picked)} random mined negatives of {len(slots)}", ""]
        lines += negative_sheet([(ds[i], k) for i, k in picked], chars)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dataset_card.review", description=__doc__.split("\n")[0])
    p.add_argument("dataset", help="published dataset: local folder or Hub id")
    p.add_argument("--revision", help="Hub revision or tag, e.g. v1.0.0")
    p.add_argument("--split", default="test", help="train, dev or test (default: test)")
    p.add_argument("--pairs", type=int, default=50, help="random (passage, query) pairs to draw (default 50)")
    p.add_argument("--negatives", type=int, default=30, help="random mined negatives to draw (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chars", type=int, default=600, help="cut passages near this many characters (0: whole)")
    p.add_argument("--out", help="write the sheet to this file (default: print it)")
    return p.parse_args(argv)


@cli_main()
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sheet = review(args.dataset, args.split, args.pairs, args.negatives, args.seed, args.chars, args.revision)
    if args.out:
        Path(args.out).write_text(sheet + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
