"""Write the dataset card: plots (PNG) and README.md (YAML metadata + the Jinja2 template, filled from the run).

Example::

    data = CardData.from_rows(split_rows, passages)      # or fed batch by batch: data.add_rows / add_passages
    readme = write_card(config, language, Path("runs/demo"), Path("runs/demo/publish/dataset"), files, counts, data)
    readme.read_text().startswith("---")      # True: the YAML metadata block comes first
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from dataset_card import plots as P
from dataset_card.context import card_context, drop_rows, read_stage_stats
from dataset_card.data import CardData
from dataset_card.metadata import card_metadata, front_matter
from pipeline.run_folder import RunFolder

TEMPLATES = Path(__file__).parent / "templates"


def render(template: str, context: dict) -> str:
    """Render ``templates/<template>`` with ``context``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                             autoescape=False, trim_blocks=False)
    env.filters["basename"] = lambda path: Path(str(path)).name
    return env.get_template(template).render(**context)


def make_plots(folder: Path, data: CardData, stats: dict, margin: float) -> list[P.Plot]:
    """Every statistics plot that has data, under ``folder/plots``."""
    out = Path(folder) / "plots"
    lengths, unit = data.passage_lengths()
    made = [
        P.lengths(out, "passage_lengths.png", {"passages": lengths}, unit, "Passage length (embedder tokens)."),
        P.lengths(out, "query_lengths.png", {s: r.values for s, r in data.query_words.items()}, "words",
                  "Query length in words, per query style."),
        P.query_styles(out, {s: dict(counts) for s, counts in data.styles.items()}),
        P.scores(out, data.positive_scores.values, {s: r.values for s, r in data.negative_scores.items()}, margin),
        P.drops(out, drop_rows(stats)),
    ]
    return [p for p in made if p is not None]


def write_card(config, language, run_dir: Path, folder: Path, files: dict[str, dict[str, str]],
               counts: dict[str, dict[str, int]], data: CardData) -> Path:
    """Plots + README.md in ``folder``; returns the README path."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    stats = read_stage_stats(run_dir)
    plots = make_plots(folder, data, stats, config.mine.relative_margin)
    context = card_context(config, language, stats, counts, plots, files)
    context["base_on_test"] = base_on_test(run_dir, data.test_query_ids)
    meta = card_metadata(
        pretty_name=config.publish.pretty_name, language=language.iso_639_1, license=config.publish.license,
        source_datasets=context["source_datasets"], tags=config.publish.tags,
        n_rows=sum(counts.get("pairs", {}).values()), files=files, version=config.publish.version)
    body = render("card.md.j2", context)
    readme = Path(folder) / "README.md"
    readme.write_text(front_matter(meta) + "\n" + body, encoding="utf-8")
    return readme


def base_on_test(run_dir: Path, test_query_ids: set[str], k: int = 10) -> dict | None:
    """Recall@k and NDCG@k of the base embedder on the test queries, from the ranks the filter's round-trip
    panel recorded (``rank_base``: the positive's rank among the whole corpus, as the BEIR test set has it).
    None when the filter recorded no base ranks (round-trip off)."""
    import math

    import pyarrow.parquet as pq

    path = RunFolder(run_dir).path("filter.queries")
    if not test_query_ids or not path.is_file() or "rank_base" not in pq.read_schema(path).names:
        return None
    ranks = [r["rank_base"] for batch in pq.ParquetFile(path).iter_batches(columns=["query_id", "rank_base"])
             for r in batch.to_pylist() if r["query_id"] in test_query_ids]
    if not ranks:
        return None
    recall = sum(r <= k for r in ranks) / len(ranks)
    ndcg = sum(1 / math.log2(r + 1) for r in ranks if r <= k) / len(ranks)
    return {"queries": len(ranks), "k": k, "recall": round(100 * recall, 1), "ndcg": round(100 * ndcg, 1)}
