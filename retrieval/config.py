"""The one config mechanism of pipeline/, training/ and eval/: strict sections, YAML, overrides, readable errors.

A config is a tree of ``StrictModel`` sections (an unknown key is an error, never silently ignored). A YAML file is
read with ``${VAR}`` / ``${VAR:-default}`` expanded from the environment, ``section.key=value`` overrides are set
on the tree, and a pydantic ``ValidationError`` becomes one ``ConfigError`` naming every bad key and the fix.

Example::

    >>> from pydantic import create_model  # in a module: class Loss(StrictModel): scale: float = 20.0
    >>> Loss = create_model("Loss", scale=(float, 20.0), __base__=StrictModel)
    >>> Train = create_model("Train", loss=(Loss, Loss()), __base__=StrictModel)
    >>> validate_config(Train, apply_overrides({}, {"loss.scale": 10}), "config <cli>").loss.scale
    10.0
    >>> validate_config(Train, {"loss": {"scael": 1}}, "config <cli>")
    Traceback (most recent call last):
    retrieval.errors.ConfigError: config <cli> is invalid:
      - unknown key 'loss.scael' in section 'loss' (did you mean 'scale'?)
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from retrieval.dotted import set_dotted
from retrieval.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_CONTAINERS = (list, tuple, set, frozenset, dict)
_MAX_SHOWN = 80  # characters of a bad value quoted back in an error


class StrictModel(BaseModel):
    """A config section: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def expand_env(value: Any, where: str = "the config", error: type[ConfigError] = ConfigError) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every string of a loaded YAML tree (unset or empty: default).

    A bare ``${VAR}`` whose variable is not set at all is an ``error`` naming it: an empty model path or URL would
    fail later with a message about ``''`` (or ``'.'``), far from the cause.

    Example::

        >>> os.environ["DOCTEST_E5"] = "/models/e5"
        >>> expand_env({"model": "${DOCTEST_E5:-intfloat/multilingual-e5-small}", "dims": ["${NO_SUCH_VAR:-64}"]})
        {'model': '/models/e5', 'dims': ['64']}
        >>> expand_env({"model": "${NO_SUCH_VAR}"}, "demo.yaml")
        Traceback (most recent call last):
        retrieval.errors.ConfigError: demo.yaml uses ${NO_SUCH_VAR}, which is not set in the environment. Fix: ...
    """
    if isinstance(value, dict):
        return {k: expand_env(v, where, error) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, where, error) for v in value]
    if isinstance(value, str):
        return _ENV_PATTERN.sub(lambda m: _env_value(m, where, error), value)
    return value


def _env_value(match: re.Match, where: str, error: type[ConfigError]) -> str:
    name, default = match.group(1), match.group(2)
    if default is None and name not in os.environ:
        raise error(f"{where} uses ${{{name}}}, which is not set in the environment. Fix: export {name}=..., or "
                    f"write ${{{name}:-DEFAULT}} to fall back on a value.")
    return os.environ.get(name) or (default or "")


def read_yaml_mapping(path: str | Path, fix: str, what: str = "config file",
                      error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The mapping a YAML file holds (an empty file: ``{}``); ``error`` naming the file and ``fix`` otherwise.

    Example::

        >>> read_yaml_mapping("configs/nope.yaml", fix="pass --config.")
        Traceback (most recent call last):
        retrieval.errors.ConfigError: config file configs/nope.yaml does not exist. Fix: pass --config.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a YAML file. Fix: {fix}")
    if not path.is_file():
        raise error(f"{what} {path} does not exist. Fix: {fix}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not a text file (not UTF-8). Fix: {fix}") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}\n{_yaml_fix(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a mapping of keys (sections), not a {type(data).__name__}. Fix: "
                    "write `key: value` lines at the top level.")
    return data


def _yaml_fix(exc: yaml.YAMLError) -> str:
    """The fix line of a YAML syntax error: where, and the usual cause (an unquoted ``${VAR}``, ``:`` or ``#``).

    Example::

        >>> try:
        ...     yaml.safe_load("model: {name: ${E5_MODEL}}")
        ... except yaml.YAMLError as exc:
        ...     print(_yaml_fix(exc))
        Fix: correct line 1, column 16; quote a value holding ${VAR}, ': ', '#', '{' or '[' (e.g. "${E5_MODEL}").
    """
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "the file"
    return (f"Fix: correct {where}; quote a value holding ${{VAR}}, ': ', '#', '{{' or '[' "
            '(e.g. "${E5_MODEL}").')


def parse_overrides(items: Iterable[str], option: str = "--set",
                    error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """``["mine.num_negatives=2"]`` (command-line strings, values read as YAML) -> ``{"mine.num_negatives": 2}``.

    Example::

        >>> parse_overrides(["mine.num_negatives=2", "filter.corpus_max_passages=null"])
        {'mine.num_negatives': 2, 'filter.corpus_max_passages': None}
    """
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise error(f"{option} {item!r}: write SECTION.KEY=VALUE, e.g. {option} mine.num_negatives=2")
        try:
            overrides[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise error(f"{option} {item!r}: the value is not valid YAML ({exc})") from None
    return overrides


def apply_overrides(tree: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set each ``section.key`` of ``overrides`` in ``tree`` (creating sections) and return the tree.

    Example::

        >>> apply_overrides({"training": {"epochs": 1}}, {"training.max_steps": 10, "seed": 3})
        {'training': {'epochs': 1, 'max_steps': 10}, 'seed': 3}
    """
    for dotted, value in overrides.items():
        set_dotted(tree, dotted, value)
    return tree


def validate_config(model: type[ModelT], tree: Mapping[str, Any], source: str,
                    error: type[ConfigError] = ConfigError) -> ModelT:
    """``model`` validated from ``tree``; one ``error`` (``"<source> is invalid: ..."``) listing every problem."""
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        lines = [f"  - {describe_error(problem, model)}" for problem in exc.errors()]
        raise error(f"{source} is invalid:\n" + "\n".join(lines)) from None


def load_config_file(model: type[ModelT], path: str | Path | None, overrides: Mapping[str, Any] | None = None, *,
                     fix: str, error: type[ConfigError] = ConfigError,
                     settings: Mapping[str, Any] | None = None) -> ModelT:
    """Read ``path`` (YAML, env-expanded; None: all defaults), set the dotted ``overrides`` and validate.

    ``overrides`` with the value None are skipped: a command-line option that was not given. ``settings`` (from
    ``--set section.key=value``, see parse_overrides) are applied last, None included (``--set key=null``).

    Example (training/config.py)::

        cfg = load_config_file(TrainConfig, "configs/train.yaml", {"training.max_steps": 7, "data.dataset": None},
                               fix="pass --config configs/train.yaml.")
    """
    tree = {} if path is None else expand_env(read_yaml_mapping(path, fix, error=error), f"config file {path}", error)
    apply_overrides(tree, {key: value for key, value in (overrides or {}).items() if value is not None})
    apply_overrides(tree, settings or {})
    return validate_config(model, tree, f"config {path if path is not None else '(defaults)'}", error=error)


def describe_error(problem: Mapping[str, Any], model: type[BaseModel]) -> str:
    """One line for one pydantic error: the dotted key, what is wrong, and for an unknown key the likely fix.

    Example::

        >>> from pydantic import create_model
        >>> Training = create_model("Training", batch_size=(int, 32), __base__=StrictModel)
        >>> Train = create_model("Train", training=(Training, Training()), __base__=StrictModel)
        >>> describe_error({"type": "extra_forbidden", "loc": ("training", "batch_sz"), "msg": ""}, Train)
        "unknown key 'training.batch_sz' in section 'training' (did you mean 'batch_size'?)"
    """
    loc = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        *parents, key = problem["loc"]
        section = _section_model(model, parents)
        where = f"section '{'.'.join(map(str, parents))}'" if parents else "the top level"
        if section is None:
            return f"unknown key '{loc}' in {where}"
        known = list(section.model_fields)
        hint = difflib.get_close_matches(str(key), known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(known) or 'none'}"
        return f"unknown key '{loc}' in {where} ({fix})"
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] != "missing" and not isinstance(problem.get("input"), dict):
        shown = repr(problem.get("input"))
        if shown not in message:  # a validator's own message may already quote the value
            message += f" (got {shown if len(shown) <= _MAX_SHOWN else shown[:_MAX_SHOWN] + '...'})"
    return f"{loc}: {message}" if loc else message


def _section_model(model: type[BaseModel], parents: list[str | int]) -> type[BaseModel] | None:
    """The section model at ``parents`` (field names, list indexes and dict keys), or None if it is no model."""
    node: type[BaseModel] | None = model
    keys_to_skip = 0  # list indexes / dict keys that come before the next field name
    for part in parents:
        if keys_to_skip:
            keys_to_skip -= 1
            continue
        field = node.model_fields.get(part) if node is not None and isinstance(part, str) else None
        if field is None:
            return None
        node, keys_to_skip = _model_in(field.annotation)
    return None if keys_to_skip else node


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, int]:
    """The model inside an annotation (``X``, ``X | None``, ``list[X]``, ``dict[str, X]``) and how many containers
    wrap it; (None, 0) when it holds no model."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, 0
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        found = [found for found in map(_model_in, args) if found[0] is not None]
        return found[0] if len(found) == 1 else (None, 0)
    if origin in _CONTAINERS and args:
        model, depth = _model_in(args[-1])
        return (model, depth + 1) if model is not None else (None, 0)
    return None, 0
