"""Set ``section.key`` in a nested config mapping: the CLI overrides of training and of pipeline.adapt."""

from __future__ import annotations

from typing import Any

from retrieval.errors import ConfigError


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """``tree["a"]["b"] = value`` for ``"a.b"``, creating sections; ConfigError when a parent is a value."""
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted}: '{part}' is not a section")
        node = child
    node[leaf] = value
