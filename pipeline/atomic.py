"""Files (and folders) that appear under their name only when complete: written under a temporary name beside
their place, renamed into it when the writing ends without an error, removed otherwise. A killed task or stage
therefore never leaves half a file where a reader (a resume, another task, ``load_dataset``) trusts the name.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "ranks.json") as tmp:
    ...     _ = tmp.write_text("[1, 2]")
    >>> sorted(p.name for p in folder.iterdir())
    ['ranks.json']
    >>> try:
    ...     with atomic_path(folder / "broken.json") as tmp:
    ...         _ = tmp.write_text("[1,")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> sorted(p.name for p in folder.iterdir())
    ['ranks.json']
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (``<name>.tmp``, nothing there) to write a file or a folder at; it replaces
    ``path`` when the block ends, or is removed when the block raises. Libraries that add a suffix to a name they are
    given (``numpy.save``/``savez``) should be handed an open file: ``with open(tmp, "wb") as f: np.save(f, a)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    _remove(tmp)  # left by a run killed mid-write
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if path.is_dir() and tmp.is_dir():
        shutil.rmtree(path)
    tmp.replace(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
