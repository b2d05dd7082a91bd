"""Assigning document groups to train/dev/test by a seeded hash, and the leakage rule for negatives.

A group's split depends only on its id and the seed (``sha256(seed:group) -> u in [0, 1)``, compared with the
cumulative fractions), never on the rest of the data: when a later version adds documents, a document keeps its
split, so v1.1's train never holds v1.0's test documents. Small runs can leave dev or test without queries; then
the query-bearing group whose ``u`` lies nearest that split's interval moves there (deterministic, reported).

Example:
    >>> assign_splits(["d1", "d2", "d3"], {"train": .8, "dev": .1, "test": .1}, seed=42, with_queries={"d1"})
    {'d1': 'train', 'd2': ..., 'd3': ...}
"""

from __future__ import annotations

import hashlib

from pipeline.run_folder import SPLITS


def unit_hash(seed: int, key: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``key``."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:15], 16) / 16**15


def _interval(fractions: dict[str, float], split: str) -> tuple[float, float]:
    low = sum(fractions[s] for s in SPLITS[: SPLITS.index(split)])
    return low, low + fractions[split]


def assign_splits(groups: list[str], fractions: dict[str, float], seed: int,
                  with_queries: set[str] | None = None) -> dict[str, str]:
    """group -> split. Groups in ``with_queries`` are the ones whose emptiness matters (see module doc)."""
    u = {g: unit_hash(seed, g) for g in groups}
    out = {}
    for g in groups:
        out[g] = next((s for s in SPLITS if u[g] < _interval(fractions, s)[1]), SPLITS[-1])
    bearing = sorted(with_queries if with_queries is not None else groups)
    for split in ("test", "dev"):
        members = [g for g in bearing if out[g] == split]
        donors = [g for g in bearing if out[g] == "train"]
        if fractions[split] > 0 and not members and len(donors) > 1:
            low, high = _interval(fractions, split)
            nearest = min(donors, key=lambda g: min(abs(u[g] - low), abs(u[g] - high)))
            out[nearest] = split
    return out


def leak_sets(positives: dict[str, set[str]], near_duplicates: dict[str, set[str]]) -> dict[str, set[str]]:
    """Passages a split's triplets may not use as negatives.

    train: the dev and test positives and their near-duplicates; dev: the test ones; test: none (its triplets are
    never trained on). ``positives``: split -> passage ids; ``near_duplicates``: passage id -> near-duplicate ids.
    """
    def held_out(split: str) -> set[str]:
        ids = set(positives.get(split, set()))
        return ids.union(*(near_duplicates.get(p, set()) for p in ids)) if ids else ids

    return {"train": held_out("dev") | held_out("test"), "dev": held_out("test"), "test": set()}
