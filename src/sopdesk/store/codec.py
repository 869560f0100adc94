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
from collections.abc import Mapping
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
    document = {
        field.name: _encode(getattr(state, field.name))
        for field in dataclasses.fields(state)
        if field.name != "run"
    }
    run = state.run
    document["run"] = {
        "sop_id": run.sop.id,
        "version": run.version,
        "started_at": _encode(run.started_at),
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
    hints = _hints(CaseState)
    for field in dataclasses.fields(CaseState):
        if field.name != "run" and field.name in document:
            values[field.name] = _decode(document[field.name], hints[field.name])
    return CaseState(**values)


# --- encoding --------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(_encode(item) for item in value)
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _encode_any(item) for key, item in value.items()}
    return value


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


def _decode(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        hint = next(arg for arg in args if arg is not type(None))
        return _decode(value, hint)
    if origin is tuple:
        return tuple(_decode(item, args[0]) for item in value)
    if origin is frozenset:
        return frozenset(_decode(item, args[0]) for item in value)
    if origin is not None and issubclass(origin, Mapping):
        return {key: _decode_any(item) for key, item in value.items()}
    if hint is datetime:
        return _parse_datetime(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(value, hint)
    return value


def _decode_dataclass(value: Mapping[str, Any], cls: type) -> Any:
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _decode(v, hints[k]) for k, v in value.items() if k in known})


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
