"""TOML text for a config Struct: the one writer behind `agent.config.dump` and `controller.config.dump`.

tomllib only reads; our configs are tables of scalars and lists of scalars, so a tiny writer does
and saves a dependency. `None` (an unset optional) is left out: TOML has no null.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec


def dumps(cfg: msgspec.Struct) -> str:
    """TOML text that the config's own loader reads back to an equal Struct."""
    data = msgspec.to_builtins(cfg)
    if not isinstance(data, dict):
        raise TypeError(f"a config must encode to a table, not {type(data).__name__}")
    return _table(data).lstrip("\n")


def _table(data: Mapping[str, object], prefix: str = "") -> str:
    scalars: list[str] = []
    tables: list[tuple[str, Mapping[str, object]]] = []
    for k, v in data.items():
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            scalars.append(f"{_key(k)} = {_value(v)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for k, v in tables:
        name = f"{prefix}{_key(k)}"
        out += f"\n[{name}]\n" + _table(v, name + ".")
    return out


def _key(k: str) -> str:
    bare = k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k)
    return k if bare else _string(k)


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items() if x is not None) + "}"
    return _string(str(v))


def _string(s: str) -> str:
    # a JSON string is a valid TOML basic string (same escapes)
    return msgspec.json.encode(s).decode()
