"""Command line: ``python -m pipeline.run --stage {ingest,passages,...,all} --config FILE``.

``--stage X`` runs X and, first, any stage before it that has not finished (finished stages are skipped, so
running stages one at a time and ``--stage all`` give the same result). With no --config the demo config
(configs/demo.yaml, on the bundled sample) runs. --force redoes the named stage; a stage killed half-way resumes
from what it had written.
"""

from __future__ import annotations

import argparse
import sys
import time

from pipeline.checks import check_run
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.publishing.hub import prepare_push, push_release
from pipeline.run_folder import RunFolder
from pipeline.stages import ORDER, STAGES
from retrieval.cli import RESUMABLE, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=[*ORDER, "all"], help="stage to run (default: all)")
    parser.add_argument("--config", help="YAML config (default: configs/demo.yaml on the bundled sample)")
    parser.add_argument("--output-dir", help="parent folder of run folders (overrides output_dir)")
    parser.add_argument("--run-name", help="run folder name (overrides run_name)")
    parser.add_argument("--max-passages", type=int, metavar="N", help="overrides generate.max_passages: raise it to "
                        "extend a run, lower it to finish with the passages answered so far")
    parser.add_argument("--force", action="store_true", help="redo the stage(s) even if already done")
    parser.add_argument("--push", nargs="?", const="", metavar="REPO_ID", help="after publish, upload the dataset "
                        "to the Hub as REPO_ID (default: publish.repo_id), tagged v<publish.version>; needs HF_TOKEN")
    parser.add_argument("--dry-run", action="store_true", help="list what --push would upload; upload nothing")
    parser.add_argument("--force-push", action="store_true", help="with --push: re-publish an existing version tag")
    return parser


def run_stages(config, stages: list[str], force: bool = False) -> dict[str, dict]:
    """Run ``stages`` in order; ``force`` redoes the last one (and so every stage after it is redone too)."""
    results, timings = {}, {}
    for name in stages:
        start = time.time()
        results[name] = STAGES[name](config).run(force=force and name == stages[-1])
        timings[name] = time.time() - start
    if len(stages) > 1:
        print("\nSummary")
        for name in stages:
            stats = results[name]
            rows = stats.get("rows", stats.get("kept", ""))
            print(f"  {name:<9} {rows!s:>8} rows  {timings[name]:8.1f}s")
        print(f"Run folder: {config.run_dir}")
    return results


@cli_main(interrupted=RESUMABLE, sigterm=True,
          # leave at once: worker threads of an interrupted inference (datatrove's, httpx's) would keep the process
          # alive; everything written so far is complete files or resumable checkpoints
          hard_exit=True)
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up at once, also when logged to a file
    config = load_config(args.config, {"output_dir": args.output_dir, "run_name": args.run_name})
    if args.max_passages is not None:
        if args.max_passages < 1:
            raise ConfigError(f"--max-passages must be at least 1 (got {args.max_passages})")
        config.generate.max_passages = args.max_passages
    stages = ORDER if args.stage == "all" else ORDER[: ORDER.index(args.stage) + 1]
    pushing = args.push is not None or args.dry_run
    if pushing:  # repo id and token are checked before any stage runs
        prepare_push(config, args.push, args.stage, args.dry_run)
    check_run(config, stages, args.force)  # later stages' settings, before the first expensive step
    with RunFolder(config.run_dir).lock():  # one run per folder (a second would redo the work)
        run_stages(config, stages, force=args.force)
        if pushing:
            push_release(config, force=args.force_push, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
