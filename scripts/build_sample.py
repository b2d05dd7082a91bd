"""Rebuild the bundled demo sample (pipeline/data/sample/) from ../shared/data/it_corpus.

Only permissively licensed sources go in (Wikinews CC BY 2.5, FLORES-200 CC BY-SA 4.0), plus a few documents
written for this repo (non-Italian text, boilerplate, spam, duplicates) so the demo shows every filter at work.
Usage: python scripts/build_sample.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "pipeline" / "data" / "sample"

NON_ITALIAN = [
    ("en-1", "The city council approved the new budget on Tuesday after a long debate about public transport. "
             "The mayor said the plan would add three bus lines and repair the old bridge over the river by next "
             "summer. Opposition members argued that the costs had been underestimated and asked for an audit."),
    ("en-2", "Researchers at the university have found that bees can recognise human faces. In the experiment, "
             "bees were trained with sugar water to associate a photograph with a reward, and most of them "
             "remembered the face two days later. The team hopes the result will help improve face recognition."),
    ("fr-1", "Le festival de musique de la ville a attiré plus de vingt mille visiteurs ce week-end. Les "
             "organisateurs se sont félicités de l'ambiance et ont annoncé que la prochaine édition aura lieu au "
             "mois de juin, avec davantage de concerts gratuits dans les parcs et sur les places du centre."),
    ("de-1", "Der Zug aus München kam am Montagmorgen mit zwei Stunden Verspätung in Verona an. Grund war ein "
             "technischer Defekt an einer Lokomotive am Brenner. Die Bahn entschuldigte sich bei den Fahrgästen "
             "und kündigte an, die Fahrkarten teilweise zu erstatten."),
    ("es-1", "El ayuntamiento de Valencia anunció ayer la apertura de un nuevo parque en el barrio del Cabanyal. "
             "El espacio contará con zonas de juego para niños, un huerto urbano y un carril bici que conectará "
             "la playa con el centro de la ciudad. Las obras terminarán en primavera."),
]

JUNK = [
    ("junk-menu", "\n".join(["Home", "Chi siamo", "Contatti", "Privacy", "Cookie policy", "Login", "Registrati",
                             "Carrello", "Offerte", "Newsletter"] * 3)),
    ("junk-spam", " ".join(["compra ora scarpe offerta sconto"] * 60)),
    ("junk-symbols", "### $$$ >>> *** ||| --- +++ ### $$$ >>> *** ||| ---\n" * 12),
    ("junk-seo", "\n".join(f"Hotel Roma {i} stelle prezzi bassi prenota subito hotel Roma" for i in range(40))),
]


def read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    args = parser.parse_args()
    corpus = Path(args.shared) / "data" / "it_corpus"
    rng = random.Random(13)
    wikinews = [d for d in read(corpus / "wikinews.jsonl.gz") if len(d["text"]) > 400]
    flores = read(corpus / "flores_devtest.jsonl.gz")
    docs = rng.sample(wikinews, 260) + rng.sample(flores, 60)
    docs = [{"id": d["id"], "text": d["text"], "url": d.get("url"), "timestamp": d.get("timestamp"),
             "source": d.get("source")} for d in docs]
    # an exact duplicate (re-formatted whitespace) and a near-duplicate (a sentence changed) of real documents
    dup = dict(docs[0], id=docs[0]["id"] + "-copy", text=docs[0]["text"].replace(". ", ".  "))
    near_text = docs[1]["text"].rsplit(".", 2)[0] + ". Aggiornamento: la notizia è stata ripresa da altri giornali."
    near = dict(docs[1], id=docs[1]["id"] + "-near", text=near_text)
    extra = [{"id": i, "text": t, "url": f"https://example.org/{i}", "timestamp": None, "source": "written-for-repo"}
             for i, t in NON_ITALIAN + JUNK]
    docs += [dup, near] + extra
    rng.shuffle(docs)
    OUT.mkdir(parents=True, exist_ok=True)
    half = len(docs) // 2
    for i, part in enumerate((docs[:half], docs[half:])):
        with gzip.open(OUT / f"sample-{i:02d}.jsonl.gz", "wt", encoding="utf-8") as f:
            for d in part:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"wrote {len(docs)} documents to {OUT}")


if __name__ == "__main__":
    main()
