"""Hand-made run folders for stage tests: passages and generate output with the markers later stages accept,
written through the layout owner (pipeline/run_folder.py), Italian fixture passages, and a grep over a run folder
(gzip files decompressed)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.run_folder import GENERATED_QUERIES, PASSAGES, RunFolder, write_marker

ITALIAN_PASSAGES = [
    "Il fiume Adige nasce in Alto Adige, attraversa Trento e Verona e sfocia nel mare Adriatico dopo circa "
    "quattrocentodieci chilometri di corso.",
    "La cattedrale di Palermo unisce elementi normanni, gotici e barocchi, frutto di lavori durati più di sette "
    "secoli dopo la fondazione del 1185.",
    "Nel porto di Genova arrivano ogni anno milioni di container, e il traffico delle navi da crociera è cresciuto "
    "molto nell'ultimo decennio.",
    "Il parmigiano reggiano matura almeno dodici mesi nelle cantine della pianura emiliana prima di ricevere il "
    "marchio del consorzio di tutela.",
    "Le Dolomiti sono state dichiarate patrimonio dell'umanità dall'UNESCO nel 2009 per la bellezza delle loro "
    "pareti verticali e dei ghiacciai.",
    "A Venezia l'acqua alta invade piazza San Marco soprattutto in autunno, quando lo scirocco spinge la marea "
    "verso la laguna.",
    "Il vulcano Etna, in Sicilia, è il più alto vulcano attivo d'Europa e le sue eruzioni sono seguite "
    "dall'istituto nazionale di geofisica.",
    "La biblioteca Ambrosiana di Milano conserva il Codice Atlantico di Leonardo da Vinci, una raccolta di disegni "
    "e appunti scientifici.",
    "Durante la vendemmia nelle colline del Chianti i grappoli vengono raccolti a mano e portati subito in cantina "
    "per la pigiatura.",
    "Il tribunale amministrativo regionale ha sospeso l'ordinanza comunale sui parcheggi dopo il ricorso "
    "presentato dai commercianti del centro storico.",
    "La squadra femminile di pallavolo ha vinto il campionato europeo battendo la Serbia in finale davanti a "
    "diecimila spettatori.",
    "Gli archeologi hanno scoperto a Pompei un affresco con scene di banchetto, rimasto nascosto sotto la cenere "
    "per quasi duemila anni.",
    "Il treno regionale tra Bari e Lecce viaggerà con orari ridotti per lavori di manutenzione sulla linea fino "
    "alla fine del mese.",
    "Nella riserva naturale dello Zingaro vivono falchi pellegrini, aquile del Bonelli e numerose specie di piante "
    "endemiche della costa.",
    "Il festival del cinema di Venezia assegna ogni anno il Leone d'oro al miglior film presentato in concorso al "
    "Lido.",
    "Le olive raccolte in Puglia a novembre producono un olio extravergine dal sapore intenso, esportato "
    "soprattutto in Germania e Giappone.",
]


def synthetic_passages(n: int) -> list[dict]:
    """``n`` distinct Italian passages (ids p00000...), for benchmarks and larger runs."""
    out = []
    for i in range(n):
        base = ITALIAN_PASSAGES[i % len(ITALIAN_PASSAGES)]
        tag = "".join("abcdefghilmnoprstuvz"[(i // 20**k) % 20] for k in range(4))  # a unique 4-letter word
        out.append({"passage_id": f"p{i:05d}", "doc_id": f"doc{i // 4:05d}", "text": f"Scheda {tag}: {base}"})
    return out


PASSAGE_COLUMNS = PASSAGES.names
QUERY_COLUMNS = GENERATED_QUERIES.names


def _write_marker(stage_dir: Path, stage: str, fingerprint: str, rows: int) -> None:
    write_marker(stage_dir, {"stage": stage, "config_hash": "handmade", "upstream": None, "fingerprint": fingerprint,
                             "stats": {"rows": rows}})


def write_passages(run_dir: Path, passages: list[dict], fingerprint: str = "passages-handmade") -> Path:
    """``runs/<name>/passages/data/0.parquet`` and its finished marker, as the passages stage writes them.

    Each passage needs ``passage_id`` and ``text``; doc_id, url, position and n_tokens are filled in if missing.
    """

    rows = []
    for i, p in enumerate(passages):
        rows.append({"passage_id": p["passage_id"], "doc_id": p.get("doc_id", f"doc-{p['passage_id']}"),
                     "url": p.get("url", f"https://example.org/{p['passage_id']}"), "position": p.get("position", i),
                     "n_tokens": p.get("n_tokens", len(p["text"].split())), "text": p["text"]})
    folder = RunFolder(run_dir)
    data = folder.path("passages.passages")
    data.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PASSAGES), data / "0.parquet")  # as datatrove's task 0 names it
    stage_dir = folder.stage_dir("passages")
    _write_marker(stage_dir, "passages", fingerprint, len(rows))
    return stage_dir


def write_generated_queries(run_dir: Path, queries: list[dict], fingerprint: str = "generate-handmade") -> Path:
    """``runs/<name>/generate/queries.parquet`` and its finished marker (each query needs passage_id and query;
    query_id, doc_id, style, model and prompt_hash are filled in if missing)."""

    rows = []
    for i, q in enumerate(queries):
        rows.append({"query_id": q.get("query_id", f"q{i:04d}"), "passage_id": q["passage_id"],
                     "doc_id": q.get("doc_id", f"doc-{q['passage_id']}"), "style": q.get("style", "question"),
                     "query": q["query"], "evidence": q.get("evidence", ""), "model": q.get("model", "fake-model"),
                     "prompt_hash": q.get("prompt_hash", "handmade")})
    folder = RunFolder(run_dir)
    folder.write("generate.queries", rows, GENERATED_QUERIES)
    stage_dir = folder.stage_dir("generate")
    _write_marker(stage_dir, "generate", fingerprint, len(rows))
    return stage_dir


def grep_run_folder(run_dir: Path, needle: str) -> list[str]:
    """Files under ``run_dir`` whose bytes (gzip files decompressed) contain ``needle``."""
    hits, raw = [], needle.encode()
    for path in sorted(Path(run_dir).rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                pass
        if raw in data:
            hits.append(str(path))
    return hits
