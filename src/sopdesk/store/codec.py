"""The engine's `CaseState` as a versioned JSON document, and back.

`sop_runs.state` holds `encode_state(state)`. The SOP itself is not stored there: the
run row points at the pinned `sop_versions` row, and `decode_state(document, sop)`
takes the parsed front matter of that version. Everything else round-trips exactly
(a hypothesis test checks it): instants as ISO 8601 UTC strings, enums as their
values, tuples as lists, the `sent` set as a sorted list.

A document carries `"codec": CODEC_VERSION`. A document written by a newer sopdesk is
refused rather than misread; older versions are upgraded here when the shape changes.
Pure: no database access.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any

from sopdesk.engine import state as engine_state
from sopdesk.engine.state import CaseState, Run
from sopdesk.errors import SopdeskError
from sopdesk.sop.model import FrontMatter

CODEC_VERSION = 1
_DATETIME_TAG = "$dt"


class StateCodecError(SopdeskError):
    """A stored case state that this version of sopdesk cannot read."""

    code = "state_codec"
    status = 500


def encode_state(state: CaseState) -> dict[str, Any]:
    """A JSON-safe document for `state`; the run's SOP is reduced to its id and version."""
    document = {name: encode(getattr(state, name)) for name, encode in _state_coders(_encoder)}
    run = state.run
    document["run"] = {
        "sop_id": run.sop.id,
        "version": run.version,
        "started_at": _instant(run.started_at),
    }
    document["codec"] = CODEC_VERSION
    return document


def decode_state(document: Mapping[str, Any], sop: FrontMatter) -> CaseState:
    """The `CaseState` stored in `document`, its run pinned to `sop` (the stored version)."""
    version = document.get("codec")
    if version != CODEC_VERSION:
        raise StateCodecError(
            f"the stored case state has codec version {version!r}; this sopdesk reads "
            f"{CODEC_VERSION}",
            hint="upgrade sopdesk to the version that wrote this database",
        )
    run_doc = document["run"]
    if run_doc["sop_id"] != sop.id:
        raise StateCodecError(f"the state is for SOP {run_doc['sop_id']!r}, not {sop.id!r}")
    run = Run(sop, int(run_doc["version"]), _parse_datetime(run_doc["started_at"]))
    values: dict[str, Any] = {"run": run}
    for name, decode in _state_coders(_decoder):
        if name in document:
            values[name] = decode(document[name])
    return CaseState(**values)


# The codec is compiled once per type from the dataclasses' type hints: one small
# function per field, chosen up front, instead of asking every value what it is.

Coder = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@cache
def _state_coders(coder_for: Callable[[Any], Coder]) -> tuple[tuple[str, Coder], ...]:
    """(field, coder) for every field of `CaseState` but the run, which is special."""
    hints = _hints(CaseState)
    fields = dataclasses.fields(CaseState)
    return tuple((f.name, coder_for(hints[f.name])) for f in fields if f.name != "run")


# --- encoding --------------------------------------------------------------------------


@cache
def _encoder(hint: Any) -> Coder:
    """How a value of type `hint` is written: instants as ISO 8601 UTC strings, enums as
    their values, dataclasses as objects, tuples as lists, sets as sorted lists."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _encoder(next(arg for arg in args if arg is not type(None)))
        return lambda value: None if value is None else inner(value)
    if origin is tuple:
        item = _encoder(args[0])
        return list if item is _identity else lambda value: [item(i) for i in value]
    if origin is frozenset:
        item = _encoder(args[0])
        return lambda value: sorted(item(i) for i in value)
    if origin is not None and issubclass(origin, Mapping):
        return _encode_mapping
    if hint is datetime:
        return _instant
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum_value
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        fields = tuple((f.name, _encoder(hints[f.name])) for f in dataclasses.fields(hint))
        return lambda value: {name: encode(getattr(value, name)) for name, encode in fields}
    return _identity


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _encode_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): _encode_any(item) for key, item in value.items()}


def _encode_any(value: Any) -> Any:
    """A free-form value (case fields, customer attributes): datetimes are tagged."""
    if isinstance(value, datetime):
        return {_DATETIME_TAG: value.astimezone(UTC).isoformat()}
    if isinstance(value, Mapping):
        return {str(key): _encode_any(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_encode_any(item) for item in value]
    return value


# --- decoding --------------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(engine_state))


@cache
def _decoder(hint: Any) -> Coder:
    """How a value of type `hint` is read back: the inverse of `_encoder`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _decoder(next(arg for arg in args if arg is not type(None)))
        return lambda value: None if value is None else inner(value)
    if origin is tuple:
        item = _decoder(args[0])
        return tuple if item is _identity else lambda value: tuple(item(i) for i in value)
    if origin is frozenset:
        item = _decoder(args[0])
        return frozenset if item is _identity else lambda value: frozenset(map(item, value))
    if origin is not None and issubclass(origin, Mapping):
        return lambda value: {key: _decode_any(item) for key, item in value.items()}
    if hint is datetime:
        return _parse_datetime
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)
    return _identity


def _dataclass_decoder(cls: Any) -> Coder:
    hints = _hints(cls)
    fields = {f.name: _decoder(hints[f.name]) for f in dataclasses.fields(cls)}

    def decode(value: Mapping[str, Any]) -> Any:
        return cls(**{k: fields[k](v) for k, v in value.items() if k in fields})

    return decode


def _decode_any(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {_DATETIME_TAG}:
            return _parse_datetime(value[_DATETIME_TAG])
        return {key: _decode_any(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_any(item) for item in value]
    return value


def _parse_datetime(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise StateCodecError(f"a stored instant has no time zone: {text!r}")
    return parsed.astimezone(UTC)
