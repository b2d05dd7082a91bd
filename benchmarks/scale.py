"""Benchmark: filter -> mine -> split -> publish at growing corpus sizes; wall time and peak memory per stage, and
how each stage's time grows with the corpus (the growth exponent: log time ratio / log size ratio, 1.0 = linear).

Each size gets a synthetic run folder (retrieval/testing/synthetic_corpus.py: real Italian sentences from
``../shared/data/it_corpus`` recombined into unique passages, 4 per document, else the fixture sentences; one query
drawn from its passage's sentences for ``--query-share`` of the passages), with the ``passages`` and ``generate``
stages marked finished. The config is configs/demo.yaml with a tiny untrained embedder (retrieval/testing/
tiny_model.py) as round-trip and mining model, so the pipeline's own cost shows, no decontamination, no LLM
judge and the whole corpus kept. Every stage runs in a fresh process (``pipeline.stages.get_stage(name)``), which
reports its stage's wall time and its peak RSS (its own or its children's, whichever is higher).

    nice -n 10 python benchmarks/scale.py --sizes 2000 8000 --threads 1    # beside a 1-thread LLM server
    python benchmarks/scale.py                                   # 10,000 / 100,000 / 1,000,000 passages
    python benchmarks/scale.py --model $(../shared/tools/get-e5-small) --json results/scale.json

``--model`` also runs the real e5-small at the smallest size (shown in the table, not in the exponents). The
last line reads ``growth exponent <x.xx> (worst stage <name>), peak RSS <y.y> GB``: the highest exponent between
the two largest sizes, and the highest peak RSS of a stage at the largest size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipeline.config import DEMO_CONFIG, load_config  # noqa: E402
from pipeline.run_folder import GENERATED_QUERIES, PASSAGES, RunFolder, write_marker  # noqa: E402
from retrieval.testing.synthetic_corpus import load_sentences, passage_query, recombined_passages  # noqa: E402

STAGES = ("filter", "mine", "split", "publish")
CORPUS_DIR = ROOT.parent / "shared" / "data" / "it_corpus"
CHUNK_ROWS = 50_000
GB = 1e9
TOKENIZER_SENTENCES, TOKENIZER_VOCAB = 50_000, 8_000  # the tiny model's WordPiece: ~230 pieces per passage
STAGE_IMPORTS = {"filter": ("retrieval.models",), "mine": ("retrieval.models",)}  # loaded before the clock starts


def write_synthetic_run(run_dir: Path, sentences: list[str], n: int, query_share: float, seed: int = 0) -> dict:
    """A fresh run folder (what was there is removed, so a --keep folder reused never skips a stage) with ``n``
    passages and their queries, ``passages`` and ``generate`` marked finished."""
    shutil.rmtree(run_dir, ignore_errors=True)
    folder = RunFolder(run_dir)
    passages_file = folder.path("passages.passages") / "0.parquet"
    queries_file = folder.path("generate.queries")
    passages_file.parent.mkdir(parents=True, exist_ok=True)
    queries_file.parent.mkdir(parents=True, exist_ok=True)
    rng, n_queries, chunk = random.Random(seed + 1), 0, []
    with pq.ParquetWriter(passages_file, PASSAGES) as passage_out, \
            pq.ParquetWriter(queries_file, GENERATED_QUERIES) as query_out:
        def flush() -> int:
            queries = [{**passage_query(p, rng, f"q{p['passage_id'][1:]}"), "model": "synthetic",
                        "prompt_hash": "synthetic"} for p in chunk if rng.random() < query_share]
            passage_out.write_table(pa.Table.from_pylist(chunk, schema=PASSAGES))
            query_out.write_table(pa.Table.from_pylist(queries, schema=GENERATED_QUERIES))
            chunk.clear()
            return len(queries)

        for passage in recombined_passages(sentences, n, seed):
            chunk.append(passage)
            if len(chunk) == CHUNK_ROWS:
                n_queries += flush()
        n_queries += flush() if chunk else 0
    for stage, rows in (("passages", n), ("generate", n_queries)):
        fingerprint = f"synthetic-{stage}-{n}-{seed}"
        write_marker(folder.stage_dir(stage), {"stage": stage, "config_hash": "synthetic", "upstream": None,
                                               "fingerprint": fingerprint, "stats": {"rows": rows}})
    return {"passages": n, "queries": n_queries}


def scale_overrides(output_dir: Path, run_name: str, model: str, n_passages: int, tiny: bool,
                    tasks: int = 1) -> dict:
    """Dotted overrides of configs/demo.yaml for a benchmark run. The untrained tiny model scores every pair
    ~0.85-0.97, so its false-negative guard gets no margin (with the default 5% it keeps almost no negative).
    ``tasks`` > 1: the round-trip panel, mining and the split's MinHash run as that many datatrove tasks, as many local
    workers."""
    overrides = {"run_name": run_name, "output_dir": str(output_dir), "filter.round_trip.model": model,
                 "mine.model": model, "filter.decontamination.eval_sets": [], "mine.llm_judge": False,
                 "filter.corpus_max_passages": n_passages, "mine.relative_margin": 0.0 if tiny else None}
    if tasks > 1:
        overrides |= {"filter.round_trip.tasks": tasks, "mine.tasks": tasks, "split.tasks": tasks,
                      "executor.workers": tasks}
    return overrides


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment that caps torch's, BLAS's and the tokenizers' threads (None: their defaults, every core). Beside
    another CPU-bound process (LLM generation) keep them to the free cores: with 2 torch threads on the one core
    llama.cpp left free, the tiny model encoded 6.7x slower than with 1 (0.97 vs 6.5 ms per passage)."""
    if not threads:
        return {}
    return {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")}


def run_stage(stage: str, overrides: dict, log: Path, in_process: bool = False, threads: int | None = None) -> dict:
    """Run one stage, by default in a fresh Python process; its wall time, process time (imports included), peak
    RSS in GB (in-process: the whole process's so far) and row count."""
    log.parent.mkdir(parents=True, exist_ok=True)
    spec, result = log.with_suffix(".overrides.json"), log.with_suffix(".result.json")
    spec.write_text(json.dumps(overrides))
    start = time.perf_counter()
    if in_process:
        timed_stage(stage, spec, result)
    else:
        with log.open("w") as out:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", stage, str(spec),
                                   str(result)], stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1", **thread_env(threads)})
        if proc.returncode != 0:
            raise RuntimeError(f"stage {stage} failed (exit {proc.returncode}); its log {log} ends:\n"
                               f"{log.read_text()[-4000:]}")
    process_s = time.perf_counter() - start
    figures = json.loads(result.read_text())
    return {"seconds": figures["seconds"], "process_s": round(process_s, 2),
            "peak_rss_gb": round(figures["peak_rss_kib"] * 1024 / GB, 3), "rows": figures["rows"]}


def timed_stage(stage: str, spec: Path, result: Path) -> None:
    """Run ``stage`` with the config overrides in ``spec`` and write its figures to ``result``. Imports come
    before the clock starts (sentence-transformers alone takes seconds): the time is the stage's own work."""
    import importlib

    from pipeline.stages import get_stage

    for module in STAGE_IMPORTS.get(stage, ()):
        importlib.import_module(module)
    config = load_config(DEMO_CONFIG, json.loads(Path(spec).read_text()))
    stage_class = get_stage(stage)
    start = time.perf_counter()
    stats = stage_class(config).run()
    seconds = time.perf_counter() - start
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    figures = {"seconds": round(seconds, 2), "peak_rss_kib": peak, "rows": stats.get("rows")}
    Path(result).write_text(json.dumps(figures))


def benchmark_size(workdir: Path, sentences: list[str], n: int, model: str, label: str, query_share: float,
                   seed: int = 0, in_process: bool = False, tasks: int = 1, threads: int | None = None) -> dict:
    """Build the run folder for ``n`` passages and run every stage on it: one result row per size and model."""
    run_name = f"scale-{n}-{label}"
    start = time.perf_counter()
    counts = write_synthetic_run(workdir / "runs" / run_name, sentences, n, query_share, seed)
    print(f"[scale] {run_name}: {counts['passages']} passages, {counts['queries']} queries written in "
          f"{time.perf_counter() - start:.1f}s", flush=True)
    overrides = scale_overrides(workdir / "runs", run_name, model, n, tiny=label == "tiny", tasks=tasks)
    stages = {}
    for stage in STAGES:
        stages[stage] = run_stage(stage, overrides, workdir / "logs" / f"{run_name}-{stage}.log", in_process,
                                  threads)
        print(f"[scale] {run_name} {stage}: {stages[stage]['seconds']:.1f}s, peak RSS "
              f"{stages[stage]['peak_rss_gb']:.2f} GB, {stages[stage]['rows']} rows", flush=True)
    return {"size": n, "model": label, "queries": counts["queries"], "stages": stages}


def growth_exponents(runs: list[dict]) -> list[dict]:
    """Per consecutive pair of sizes (tiny-model runs): each stage's log time ratio / log size ratio, and the
    total's."""
    tiny = sorted((r for r in runs if r["model"] == "tiny"), key=lambda r: r["size"])
    out = []
    for small, large in zip(tiny, tiny[1:]):
        size_ratio = math.log(large["size"] / small["size"])
        times = {s: (small["stages"][s]["seconds"], large["stages"][s]["seconds"]) for s in STAGES}
        times["total"] = tuple(sum(t[i] for t in times.values()) for i in (0, 1))
        out.append({"from": small["size"], "to": large["size"],
                    "exponents": {s: round(math.log(max(b, 0.01) / max(a, 0.01)) / size_ratio, 3)
                                  for s, (a, b) in times.items()}})
    return out


def summary_line(runs: list[dict], exponents: list[dict]) -> str:
    """``growth exponent <x.xx> (worst stage <name>), peak RSS <y.y> GB`` for the two largest sizes."""
    last = exponents[-1]["exponents"]
    worst = max(STAGES, key=lambda s: last[s])
    largest = max((r for r in runs if r["model"] == "tiny"), key=lambda r: r["size"])
    peak = max(figures["peak_rss_gb"] for figures in largest["stages"].values())
    return f"growth exponent {last[worst]:.2f} (worst stage {worst}), peak RSS {peak:.1f} GB"


def format_report(runs: list[dict], exponents: list[dict]) -> str:
    """The table of every run's stages, the exponents between sizes, and the summary line last."""
    lines = [f"{'passages':>9} {'model':<9} {'queries':>8} {'stage':<8} {'seconds':>8} {'process_s':>9} "
             f"{'peak_GB':>8} {'rows':>8}"]
    for run in runs:
        head = f"{run['size']:>9} {run['model']:<9} {run['queries']:>8}"
        for stage, f in run["stages"].items():
            rows = "-" if f["rows"] is None else f["rows"]
            lines.append(f"{head} {stage:<8} {f['seconds']:>8.1f} {f['process_s']:>9.1f} {f['peak_rss_gb']:>8.2f} "
                         f"{rows:>8}")
        lines.append(f"{head} {'total':<8} {sum(f['seconds'] for f in run['stages'].values()):>8.1f}")
    lines.append("")
    lines.append(f"{'growth exponent':<16}" + "".join(f"{e['from']}->{e['to']:<8}".rjust(18) for e in exponents))
    for stage in (*STAGES, "total"):
        lines.append(f"{stage:<16}" + "".join(f"{e['exponents'][stage]:>18.2f}" for e in exponents))
    lines.append("")
    lines.append(summary_line(runs, exponents))
    return "\n".join(lines)


def run_benchmark(sizes: list[int], workdir: Path, sentences: list[str], query_share: float = 0.5,
                  e5_model: str | None = None, seed: int = 0, in_process: bool = False, tasks: int = 1,
                  threads: int | None = None) -> dict:
    """Every size with the tiny model (plus the smallest with ``e5_model``); figures, exponents and report.
    ``in_process`` runs the stages in this process (fast, for tests; peak RSS is then the process's so far)."""
    from retrieval.testing.tiny_model import build_tiny_model

    # its vocabulary trained on the sentences the passages are made of, as a real model's fits its language: the
    # fixture-trained one cut a passage into ~600 pieces (e5-small: ~250), and tokenizing outweighed the model
    tiny = str(build_tiny_model(workdir / "tiny-model", seed=seed, texts=sentences[:TOKENIZER_SENTENCES],
                                vocab_size=TOKENIZER_VOCAB))
    models = [(n, tiny, "tiny") for n in sorted(sizes)] + ([(min(sizes), e5_model, "e5-small")] if e5_model else [])
    runs = [benchmark_size(workdir, sentences, n, model, label, query_share, seed, in_process, tasks, threads)
            for n, model, label in models]
    exponents = growth_exponents(runs)
    return {"sizes": sorted(sizes), "query_share": query_share, "sentences": len(sentences), "runs": runs,
            "exponents": exponents, "report": format_report(runs, exponents)}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return timed_stage(argv[1], Path(argv[2]), Path(argv[3]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--query-share", type=float, default=0.5, help="share of passages with a query")
    parser.add_argument("--model", help="the real e5-small folder: also run it at the smallest size")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="JSONL gz documents to take sentences from "
                        "(default ../shared/data/it_corpus; missing: the fixture sentences)")
    parser.add_argument("--keep", type=Path, help="keep the run folders, models and logs in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=1, help="run the round-trip panel, mining and MinHash as this "
                        "many datatrove tasks on as many local workers (default 1: in the stage's process)")
    parser.add_argument("--threads", type=int, help="cap each stage's torch/BLAS/tokenizer threads (default: every "
                        "core; beside LLM generation give the free cores)")
    args = parser.parse_args(argv)
    if len(set(args.sizes)) < 2:
        parser.error("--sizes needs at least two different sizes (the exponent compares them)")
    sentences = load_sentences(args.corpus)
    print(f"[scale] {len(sentences)} sentences from {args.corpus if args.corpus.is_dir() else 'the fixture'}")
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        workdir = args.keep or Path(tmp)
        result = run_benchmark(args.sizes, workdir, sentences, args.query_share, args.model, args.seed,
                               tasks=args.tasks, threads=args.threads)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: v for k, v in result.items() if k != "report"}, indent=2))
    print(result["report"])


if __name__ == "__main__":
    main()
