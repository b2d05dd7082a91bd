"""generate: passages -> search queries written by an LLM behind any OpenAI-compatible endpoint.

Requests go through datatrove's InferenceRunner (concurrency, retries, request cache, checkpoints). The raw replies
are kept (``raw/``); parsing and validation happen afterwards, so a better parser never needs new requests.

Layout under ``runs/<name>/generate/``::

    input/passages.jsonl.gz   the seeded sample of passages sent (fixed at the first run, reused on resume)
    raw/                      one record per passage with the raw reply (InferenceRunner output)
    checkpoints/              InferenceRunner's request cache and chunk checkpoints (resume)
    queries.parquet           valid queries: query_id, passage_id, doc_id, style, query, model, prompt_hash
    dropped.parquet           replies and queries dropped, with the reason and the raw text
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from datatrove.pipeline.inference.run_inference import InferenceConfig
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from pipeline.atomic import atomic_path
from pipeline.errors import EndpointError, StageError
from pipeline.executors import make_executor, read_step_stats
from pipeline.generation.collect import collect_queries
from pipeline.generation.endpoint import QueryInferenceRunner, api_key_from_env, preflight, query_rollout, redact
from pipeline.generation.llamacpp import LOCAL_BACKENDS, check_server_available, local_server, resolve_gguf
from pipeline.generation.progress import GenerationProgress
from pipeline.generation.prompts import build_messages, prompt_hash, reply_schema, styles_for
from pipeline.generation.raw_replies import MAX_ATTEMPTS, TRANSIENT, error_cause, raw_records, reply_of
from pipeline.generation.reply_store import ReplyStore, text_sha1
from pipeline.run_folder import GENERATE_DROPPED, GENERATED_QUERIES
from pipeline.stages.base import Stage, format_drops

_OPERATIONAL = {"max_passages": True, "concurrency": True, "request_timeout": True, "max_retries": True,
                "endpoint_url": True, "api_key_env": True,
                "batch_passages": True, "reply_store": True,
                "llamacpp": {"n_threads", "host", "port", "startup_timeout", "model_path", "server_binary",
                             "parallel", "extra_args"}}


class MessageBuilder:
    """Picklable callable: passage text -> chat messages (sent to datatrove workers)."""

    def __init__(self, prompts, styles: list[str]):
        self.prompts, self.styles = prompts, styles

    def __call__(self, passage: str) -> list[dict]:
        return build_messages(passage, self.prompts, self.styles)


class GenerateStage(Stage):
    name = "generate"
    config_sections = ("generate",)

    @property
    def styles(self) -> list[str]:
        return styles_for(self.config.generate.styles, self.config.generate.queries_per_passage)

    expensive = True

    def __init__(self, config):
        super().__init__(config)
        self._stored_records: dict[str, dict] = {}  # set by _prepare_batches
        self._exported: set[str] = set()  # passages this run added to the reply store
        self._llm_file: str | None = None  # the GGUF a local backend serves, set by process

    def preflight(self) -> None:
        """A local backend's files, checked before ingest and passages run (pipeline/checks.py): the GGUF when a
        path is given (a Hub download waits for the stage), and the server unless a reply store may answer
        everything (a fresh clone then needs no server)."""
        gen = self.config.generate
        if gen.backend not in LOCAL_BACKENDS:
            return
        if gen.llamacpp.model_path or os.environ.get("LLM_GGUF"):
            resolve_gguf(gen.llamacpp)
        if not gen.reply_store:
            check_server_available(gen.backend, gen.llamacpp)

    def config_hash(self) -> str:
        # max_passages only sets how far into the seeded order to go (growing it extends a finished run), and
        # operational settings (threads, ports, timeouts, concurrency) do not change what the replies are
        section = self.config.generate.model_dump(mode="json", exclude=_OPERATIONAL)
        phash = prompt_hash(self.language.prompts, self.styles)
        return hashlib.sha256(json.dumps([section, self.config.language, self.config.seed, phash],
                                         sort_keys=True).encode()).hexdigest()[:16]

    def extent_done(self, stats: dict) -> bool:
        # passages of the target whose request failed for a passing cause (endpoint down, a glitch after every retry)
        # are sent again on a rerun, up to MAX_ATTEMPTS runs each; a 400 (prompt too long) is final
        return stats.get("passages_in", 0) >= self._target() and not stats.get("retryable_failures", 0)

    def _order(self):
        """All passages in a seeded random order; a run takes a prefix of it, so growing a run appends."""
        import numpy as np

        table = self._passages().sort_by("passage_id")
        if table.num_rows == 0:
            raise StageError("the passages stage produced no passages: nothing to generate queries for")
        return table.take(np.random.default_rng(self.config.seed).permutation(table.num_rows))

    def _target_ids(self) -> set[str]:
        return set(self._order().slice(0, self._target()).column("passage_id").to_pylist())

    def _target(self) -> int:
        n_total = self._passages().num_rows
        n = self.config.generate.max_passages
        return min(n, n_total) if n else n_total

    def _batches(self) -> list[Path]:
        return sorted(self.folder.path("generate.input").glob("batch_*.jsonl.gz"))

    def _passages(self):
        return self.folder.read("passages.passages", allow_empty=True)

    @property
    def store(self) -> ReplyStore | None:
        return ReplyStore(self.config.generate.reply_store) if self.config.generate.reply_store else None

    def _stored(self, order) -> dict[str, dict]:
        """passage_id -> stored reply record (reply_store), checked against this run's passages and prompt."""
        if self.store is None:
            return {}
        expect = {pid: text_sha1(text) for pid, text in zip(order.column("passage_id").to_pylist(),
                                                             order.column("text").to_pylist())}
        return self.store.load(expect, prompt_hash(self.language.prompts, self.styles), self.config.generate.model,
                               self.config_hash(), self._llm_file)

    def _prepare_batches(self) -> list[Path]:
        """The batches to run. Input is written in batches of ``batch_passages``: the target prefix of the seeded
        order, minus passages already in a batch or answered in the reply store. Each batch runs in its own
        InferenceRunner folder, so finished batches are never touched again, a larger max_passages only adds
        batches, and a smaller one leaves the batches it no longer needs unsent (what they hold is kept)."""
        batches = self._batches()
        ids_of = {}
        for path in batches:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                ids_of[path] = {json.loads(line)["id"] for line in f if line.strip()}
        covered = set().union(*ids_of.values()) if ids_of else set()
        order = self._order()
        self._stored_records = self._stored(order)
        target = self._target()
        if len(covered) > target:
            print(f"[generate] {len(covered)} passages already in batches (more than max_passages={target}); "
                  "keeping what they hold")
        wanted = order.slice(0, target).to_pylist()
        usable, failed = self._answered()
        failed = failed & {row["passage_id"] for row in wanted}
        if failed:
            print(f"[generate] {len(failed)} passages whose request failed earlier are sent again")
        needed = {row["passage_id"] for row in wanted} - usable - set(self._stored_records)
        todo = [row for row in wanted if row["passage_id"] in needed
                and (row["passage_id"] not in covered or row["passage_id"] in failed)]
        size = self.config.generate.batch_passages
        for start in range(0, len(todo), size):
            path = self.folder.path("generate.input") / f"batch_{len(batches):03d}.jsonl.gz"
            with atomic_path(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as f:
                for row in todo[start : start + size]:
                    f.write(json.dumps({"id": row["passage_id"], "text": row["text"],
                                        "metadata": {"doc_id": row["doc_id"]}}, ensure_ascii=False) + "\n")
            batches.append(path)
            ids_of[path] = {row["passage_id"] for row in todo[start : start + size]}
        self._covered = len(set().union(*ids_of.values()) | set(self._stored_records)) if ids_of else \
            len(self._stored_records)
        # a batch runs while it holds a passage still needed, or while it is unfinished and not new (resume)
        return [path for path in batches if ids_of[path] & needed]

    def _answered(self) -> tuple[set[str], set[str]]:
        """(passages answered or failed for good, passages to send again): a passage whose request failed for a
        passing cause is sent again until it has failed MAX_ATTEMPTS times (then it is final, as a 400 is)."""
        usable, failures = set(), Counter()
        for record in self._raw_records(tolerant=True):
            error = reply_of(record).get("error")
            if error is None or error_cause(error) not in TRANSIENT:
                usable.add(record["id"])  # answered, or failed for good (a 400): not sent again
            else:
                failures[record["id"]] += 1
        usable |= {pid for pid, n in failures.items() if n >= MAX_ATTEMPTS}
        return usable, set(failures) - usable - set(self._stored_records)

    def _estimate(self, batches: list[Path]) -> dict[str, int]:
        builder = MessageBuilder(self.language.prompts, self.styles)
        chars = n = 0
        for path in batches:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    chars += sum(len(m["content"]) for m in builder(json.loads(line)["text"]))
                    n += 1
        # passages of the target that a batch or the store covers (a run stopped early with a smaller max_passages
        # has batches beyond its target: they are kept, not counted)
        return {"passages": min(self._covered, self._target()), "to_send": n, "prompt_tokens_estimate": chars // 4}

    # -------------------------------------------------------------------- run
    def process(self) -> dict[str, Any]:
        gen = self.config.generate
        self._llm_file = Path(resolve_gguf(gen.llamacpp)).name if gen.backend in LOCAL_BACKENDS else None
        batches = self._prepare_batches()
        estimate = self._estimate(batches)
        done_here, stored_elsewhere = self._done_here_and_elsewhere()
        done = done_here + stored_elsewhere
        print(f"[generate] {estimate['passages']} passages x {len(self.styles)} queries; about "
              f"{estimate['prompt_tokens_estimate']:,} prompt tokens (chars/4 estimate); {done} already done"
              + (f" ({len(self._stored_records)} from {self.store.folder})" if self._stored_records else ""))
        start = time.time()
        with ExitStack() as stack:
            url = gen.endpoint_url
            if gen.backend in LOCAL_BACKENDS and batches:  # nothing to send (all stored): no server to start
                url = stack.enter_context(local_server(gen.backend, gen.llamacpp, gen.model,
                                                       self.folder.path("generate.server_log", backend=gen.backend)))
            if gen.backend in ("endpoint", *LOCAL_BACKENDS) and batches:
                preflight(url, api_key_from_env(gen.api_key_env), gen.model, gen.api_key_env)
            if batches:
                stack.enter_context(GenerationProgress(self.dir, estimate["passages"], stored_elsewhere))
            sent = 0
            for batch in batches:
                try:
                    sent_now = self._run_inference(batch, url)
                except BaseException:  # stopped by the user or the session, or failing as a stop kills the server
                    self._export(batch)  # (a broken pipe): the finished chunks go to the store now, so that a
                    raise                # fresh clone does not send them again
                sent += sent_now
                self._export(batch)
                if sent_now:  # a batch finished earlier keeps its old failures: they are being sent again
                    self._stop_if_failing(batch, url)
        for batch in self._batches():  # finished before reply_store was set, or in a run stopped early
            if self._finished(batch):
                self._export(batch)
        elapsed = time.time() - start
        return self._collect(estimate, elapsed, sent)

    def _finished(self, batch: Path) -> bool:
        return (self.dir / "logs" / batch.name.split(".")[0] / "completions" / "00000").is_file()

    def _stop_if_failing(self, batch: Path, url: str | None) -> None:
        """Stop the run when most of a batch failed for passing causes (the server died, the endpoint is down):
        going on would only mark every remaining passage as failed."""
        records = list(self._raw_records(batch.name.split(".")[0], tolerant=True))
        failed = [r for r in records if error_cause(reply_of(r).get("error") or "ok") in TRANSIENT]
        if len(records) >= 4 and len(failed) > len(records) / 2:
            causes = Counter(error_cause(reply_of(r)["error"]) for r in failed)
            raise EndpointError(
                f"{len(failed)} of {len(records)} requests of {batch.name} failed ({dict(causes)}): the LLM server at "
                f"{url} looks down or overloaded (see {self.dir} for its log). Everything answered is kept; fix the "
                "cause and rerun the same command: the failed passages are sent again.")

    def _run_inference(self, batch: Path, url: str | None) -> int:
        """Run one batch through InferenceRunner; return the requests really sent (cache replays excluded)."""
        gen = self.config.generate
        name = batch.name.split(".")[0]
        request_params = {"max_tokens": gen.max_tokens, "temperature": gen.temperature}
        fmt = gen.response_format or ("json_object" if gen.backend == "llamacpp" else "json_schema")
        if fmt == "json_schema":
            request_params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "queries", "schema": reply_schema(self.styles)}}
        elif fmt == "json_object":  # llama-cpp-python's form: the schema becomes a grammar
            request_params["response_format"] = {"type": "json_object", "schema": reply_schema(self.styles)}
        config = InferenceConfig(
            server_type="endpoint" if gen.backend in ("endpoint", *LOCAL_BACKENDS) else "vllm",
            model_name_or_path=gen.model, endpoint_url=url,  # no api_key: datatrove writes the config to disk
            max_concurrent_generations=gen.concurrency, request_timeout=gen.request_timeout, metric_interval=30,
            # more documents than request slots: the next passages are read and waiting when a reply comes back,
            # and a finished document's checkpoint write does not hold a request slot (benchmarks/generate.py)
            max_concurrent_documents=2 * gen.concurrency,
        )
        runner = QueryInferenceRunner(
            rollout_fn=query_rollout,
            config=config,
            output_writer=JsonlWriter(str(self.folder.path("generate.raw") / name),
                                      output_filename="${rank}_chunk_${chunk_index}.jsonl.gz"),
            shared_context={"messages_for": MessageBuilder(self.language.prompts, self.styles),
                            "request_params": request_params, "api_key_env": gen.api_key_env},
            checkpoints_local_dir=str(self.folder.path("generate.checkpoints") / name),
            records_per_chunk=gen.records_per_chunk,
            metadata_key="reply",
            client_max_retries=gen.max_retries,
            api_key_env=gen.api_key_env,
        )
        reader = JsonlReader(str(batch.parent), glob_pattern=batch.name)
        executor = make_executor(self.config.executor, [reader, runner], self.dir / "logs" / name, 1,
                                 f"generate_{name}", workers=1)
        if not executor.get_incomplete_ranks():
            return 0  # finished in an earlier run
        try:
            executor.run()
        except Exception as e:  # noqa: BLE001 - surface the endpoint's own message, keep what was written
            message = redact(str(e).split(". Payload: ")[0], api_key_from_env(gen.api_key_env))  # no prompt
            if "Error code: 401" in message or "AuthenticationError" in message:
                message += (f"\nThe endpoint {url} rejected the API key: set a valid key in the environment variable "
                            f"{gen.api_key_env} (generate.api_key_env).")
            raise EndpointError(
                f"query generation stopped: {message[:800]}\nEverything finished so far is saved in {self.dir}; "
                "fix the cause and rerun the same command to continue."
            ) from None
        counters = read_step_stats(self.dir / "logs" / name)
        return int(sum(c.get("successful_requests", 0) + c.get("failed_requests", 0)
                       for step, c in counters.items() if "Inference" in step))

    def _done_here_and_elsewhere(self) -> tuple[int, int]:
        """(replies in this run folder, stored passages it does not hold): a stopped run exports its own replies to
        the store too, and they must not be counted twice. One pass over the raw files."""
        here = [record["id"] for record in self._raw_records(tolerant=True)]
        return len(here), len(set(self._stored_records) - set(here))

    def _raw_records(self, batch: str = "*", tolerant: bool = False):
        return raw_records(self.folder.path("generate.raw"), batch, tolerant)

    def _export(self, batch: Path) -> None:
        """Copy a finished batch's usable replies into the reply store (errors stay out: they are sent again)."""
        if self.store is None:
            return
        phash, model = prompt_hash(self.language.prompts, self.styles), self.config.generate.model
        records = []
        known = set(self._stored_records) | self._exported  # a batch stopped early exported part of itself
        for record in self._raw_records(batch.name.split(".")[0], tolerant=True):
            reply = reply_of(record)
            if "error" not in reply and record["id"] not in known:
                records.append({"passage_id": record["id"], "text_sha1": text_sha1(record["text"]),
                                "doc_id": record.get("metadata", {}).get("doc_id", ""), "prompt_hash": phash,
                                "model": model, "llm_file": self._llm_file, "config_hash": self.config_hash(),
                                "reply": reply})
        path = self.store.add(records)
        self._exported |= {r["passage_id"] for r in records}
        if path:
            print(f"[generate] {len(records)} replies of {batch.name} kept in {path} (commit it to keep them)")

    def _all_records(self):
        """Stored replies first, then this run's raw replies for passages the store does not answer."""
        for record in self._stored_records.values():
            yield {"id": record["passage_id"], "metadata": {"doc_id": record.get("doc_id", ""),
                                                            "reply": [record["reply"]]}}
        for record in self._raw_records(tolerant=True):  # a batch left unfinished gives what it holds
            if record["id"] not in self._stored_records:
                yield record

    # ---------------------------------------------------------------- results
    def _collect(self, estimate: dict, elapsed: float, sent: int) -> dict[str, Any]:
        gen = self.config.generate
        phash = prompt_hash(self.language.prompts, self.styles)
        table = self.folder.read("passages.passages", columns=("passage_id", "doc_id"), allow_empty=True)
        doc_of = dict(zip(table.column("passage_id").to_pylist(), table.column("doc_id").to_pylist()))
        got = collect_queries(self._all_records(), self.styles, self.language.prompts.refusals, phash, gen.model,
                              doc_of)
        if not got.passages:
            raise StageError(f"no replies were recorded in {self.folder.path('generate.raw')}: the generation did "
                             "not run")
        self.folder.write("generate.queries", got.rows, GENERATED_QUERIES)
        self.folder.write("generate.dropped", got.dropped, GENERATE_DROPPED)

        return {
            "passages_in": estimate["passages"], "replies": got.passages, "rows": len(got.rows),
            "replies_dropped": dict(got.replies_dropped), "queries_dropped": dict(got.queries_dropped),
            "request_errors_by_cause": dict(got.error_causes),
            "retryable_failures": len(self._answered()[1] & self._target_ids()),
            "prompt_tokens_estimate": estimate["prompt_tokens_estimate"], **got.usage,
            "requests_this_run": sent,
            "requests_per_s": round(sent / elapsed, 4) if elapsed > 0 else None,  # server start-up included
            "model": gen.model, "backend": gen.backend, "prompt_hash": phash,
            "llm_file": self._llm_file,
        }

    def summary(self, stats: dict[str, Any]) -> str:
        return (f"{stats['replies']} replies -> {stats['rows']} queries; replies dropped: "
                f"{format_drops(stats['replies_dropped'])}; queries dropped: {format_drops(stats['queries_dropped'])}"
                f"; {stats['requests_per_s']} requests/s")
