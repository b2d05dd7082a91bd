"""Reading a stage's Parquet output with the checks a user needs: file present, columns present, not empty.

Example:
    >>> table = read_table(run_dir / "filter" / "queries.parquet", QUERY_COLUMNS, producer="filter")
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputDataError, StageError

QUERY_COLUMNS = ("query_id", "passage_id", "doc_id", "style", "query")
PASSAGE_COLUMNS = ("passage_id", "doc_id", "text")


def read_table(path: Path, columns: tuple[str, ...], producer: str, allow_empty: bool = False) -> pa.Table:
    """Read ``path`` (a Parquet file or folder); InputDataError/StageError that names the file and the fix."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path} is missing: the '{producer}' stage should have written it. Rerun "
                             f"`python -m pipeline.run --stage {producer} --force`.")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputDataError(f"{path} is not readable Parquet ({e}). Rerun the '{producer}' stage with --force.") \
            from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputDataError(f"{path} lacks the column(s) {missing} (it has {table.column_names}). It was written "
                             f"by an incompatible '{producer}' stage: rerun it with --force.")
    if table.num_rows == 0 and not allow_empty:
        raise StageError(f"{path} is empty: the '{producer}' stage kept no rows, so there is nothing to do. Check "
                         f"runs/<run>/{producer}/stats.json for what was dropped and why, relax those settings, "
                         f"and rerun from that stage.")
    return table
