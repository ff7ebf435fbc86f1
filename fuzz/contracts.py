"""The contract of every fuzz target: any bytes give a value, or the project's own errors and problems.

Where it sits: the `fuzz_<target>.py` scripts run these checks under atheris, and
`tests/test_fuzz_findings_stay_fixed.py` replays the seed corpora and every past finding through
them. Each check feeds one input to the entry point the product uses for that kind of input and
lets through only what the product promises: a document with problems, a parsed configuration
with errors, a `SavedPlanError`, a `SnapshotProblem`. Any other exception (KeyError, TypeError,
RecursionError, UnicodeError …) escapes, which atheris reports as a crash; a value of the wrong
shape fails an `assert`. Hangs are libFuzzer's to catch (`-timeout`).

Nothing here imports atheris, so the tests run without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

from reconciler.app.live import read_saved_plan
from reconciler.core.configs import config_hash, parse_config, serialize
from reconciler.core.documents import Document, parse_yaml
from reconciler.core.loading import load_file, locate_problems
from reconciler.core.models import FILE_KINDS, FileKind, kind_of
from reconciler.core.observed import SnapshotProblem, parse_snapshot, snapshot_json
from reconciler.core.plans import Plan
from reconciler.core.problems import Problem
from reconciler.core.secrets import SecretRef
from reconciler.daemon import webhooks
from reconciler.errors import SavedPlanError

Check = Callable[[bytes], None]

# --- YAML files of a fleet repository -------------------------------------------------------------------


def _kind_path(kind: FileKind) -> str:
    """A path of the repository that `kind` claims (`devices/**/*.yaml` → `devices/fuzzed.yaml`)."""
    path = kind.patterns[0].replace("**/", "").replace("*", "fuzzed")
    assert kind_of(path) is kind, path
    return path


KIND_PATHS = {kind.name: _kind_path(kind) for kind in FILE_KINDS}
_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_INT64 = range(-(2**63), 2**63)
_SCALARS = (str, bool, int, float, dt.date, SecretRef, type(None))  # datetime is a date


def check_yaml(data: bytes) -> None:
    """A fleet file's bytes: plain data or positioned problems, validated as each kind of file it may be."""
    parsed = parse_yaml(KIND_PATHS["fleet"], data)
    if parsed.problems:
        _check_problems(parsed.problems, data, KIND_PATHS["fleet"])
        return
    _check_plain(parsed.data, 0)
    for kind in _kinds_for(parsed.data):
        path = KIND_PATHS[kind.name]
        loaded = load_file(Document(path, data, parsed.data), kind)
        assert (loaded.spec is None) == bool(loaded.problems), (kind.name, loaded.problems)
        _check_problems(tuple(locate_problems(loaded.problems, {path: data})), data, path)


def _kinds_for(data: Any) -> list[FileKind]:
    """The kinds whose top-level keys the data uses (validating all sixteen every time is slow), or fleet.yaml."""
    keys = set(data) if isinstance(data, dict) else set()
    return [kind for kind in FILE_KINDS if keys & set(kind.model.model_fields)] or [FILE_KINDS[0]]


def _check_plain(value: Any, depth: int) -> None:
    """What `parse_yaml` promises: dicts, lists and scalars, 64-bit integers, finite numbers, bounded depth."""
    assert depth <= 64, "nesting deeper than documents.MAX_DEPTH came through"
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, _SCALARS), f"mapping key of type {type(key).__name__}"
            _check_plain(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_plain(item, depth + 1)
    else:
        assert isinstance(value, _SCALARS), f"value of type {type(value).__name__}"
        if isinstance(value, int) and not isinstance(value, bool):
            assert value in _INT64, value
        if isinstance(value, float):
            assert math.isfinite(value), value


def _check_problems(problems: tuple[Problem, ...], data: bytes, path: str) -> None:
    """Each problem names the file and a line of it (1-based, at most one past the last line; YAML
    also breaks lines at CR, NEL, LS and PS)."""
    lines = len(_YAML_BREAKS.split(data.decode("utf-8", "replace")))
    for problem in problems:
        assert problem.file == path, problem
        assert problem.message, problem
        if problem.line is not None:
            assert 1 <= problem.line <= lines + 1, (str(problem), lines)
            assert problem.col is None or problem.col >= 1, str(problem)
        str(problem)


# --- icom OS configuration text ----------------------------------------------------------------------


def check_config(data: bytes) -> None:
    """Configuration text (as a router reports it: undecodable bytes kept as surrogates) parses to a
    mapping plus line errors; the mapping's canonical text hashes and parses back to the same mapping."""
    text = data.decode("utf-8", "surrogateescape")
    parsed = parse_config(text)
    lines = len(text.replace("\r\n", "\n").split("\n"))
    for error in parsed.errors:
        assert 1 <= error.line <= lines, (str(error), lines)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.values.items())
    assert len(config_hash(parsed.values)) == 64
    again = parse_config(serialize(parsed.values))
    assert again.errors == (), again.errors
    assert again.values == parsed.values, "the canonical text does not parse back to the same mapping"


# --- saved plans (`plan --out`, read by `apply plan.json`) -------------------------------------------


def check_saved_plan(data: bytes) -> None:
    """A saved plan's bytes: a plan whose every field has its declared type, or a SavedPlanError."""
    try:
        plan, source = read_saved_plan(data, "plan.json")
    except SavedPlanError as exc:
        assert str(exc).startswith("plan.json "), str(exc)
        return
    assert isinstance(source, str) and source, source
    assert _conforms(plan, Plan), f"the plan read back has a field of the wrong type: {plan!r:.300}"


def _conforms(value: Any, tp: Any) -> bool:
    """Whether `value` is of the annotated type `tp` (the few forms the plan dataclasses use)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if origin is tuple:
        return isinstance(value, tuple) and all(_conforms(item, args[0]) for item in value)
    if origin in (dict, Mapping):
        return isinstance(value, Mapping) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items())
    if isinstance(tp, type) and is_dataclass(tp):
        hints = get_type_hints(tp)
        return isinstance(value, tp) and all(_conforms(getattr(value, f.name), hints[f.name]) for f in fields(tp))
    return tp is Any or (isinstance(value, tp) and not (tp is int and isinstance(value, bool)))


# --- observed-state snapshots (`plan --observed FILE`) -----------------------------------------------


def check_snapshot(data: bytes) -> None:
    """A snapshot's bytes: a snapshot every device of which hashes, and that is written back to the
    same snapshot (what `observe --out` would write), or a SnapshotProblem."""
    try:
        snapshot = parse_snapshot(data)
    except SnapshotProblem as exc:
        assert str(exc), "a SnapshotProblem without a message"
        return
    for device in snapshot.devices:
        assert len(device.state_hash()) == 64
    assert len(snapshot.by_serial()) == len(snapshot.devices)
    assert parse_snapshot(snapshot_json(snapshot)) == snapshot, "the snapshot does not read back as itself"


# --- webhook bodies (`POST /api/v1/webhooks/git`) ------------------------------------------------------

WEBHOOK_SECRET = "fuzzing-secret"


def check_webhook(data: bytes) -> None:
    """A signed body is accepted from every kind of git host, the same bytes as a signature header are
    refused, and the verdict on the body (a push to the followed branch or not) is a value; nothing raises."""
    mac = hmac.new(WEBHOOK_SECRET.encode(), data, hashlib.sha256).hexdigest()
    signed = {"X-Hub-Signature-256": f"sha256={mac}", "X-Gitea-Signature": mac,
              "X-Gitlab-Token": WEBHOOK_SECRET, "X-Signature-256": f"sha256={mac}"}
    for header, value in signed.items():
        assert webhooks.verify(WEBHOOK_SECRET, {header: value}, data) == webhooks.SIGNATURE_HEADERS[header]
    # aiohttp decodes header values as UTF-8 with surrogateescape: any bytes can arrive as a signature
    forged = data[:200].decode("utf-8", "surrogateescape")
    for header in signed:
        accepted = header == "X-Gitlab-Token" and forged == WEBHOOK_SECRET  # GitLab sends the secret itself
        assert webhooks.verify(WEBHOOK_SECRET, {header: forged}, data) == ("gitlab" if accepted else None)
    payload = _webhook_payload(data)
    if payload is _TOO_DEEP:
        return
    for headers in ({}, {"X-GitHub-Event": "push"}, {"X-Gitlab-Event": "System Hook"}, {"X-Gitea-Event": "ping"},
                    {"X-Gitlab-Event": forged}):
        verdict = webhooks.judge(headers, payload, "main")
        assert isinstance(verdict.act, bool) and isinstance(verdict.reason, str), verdict
        assert not verdict.act or payload["ref"] == "refs/heads/main", verdict


_TOO_DEEP = object()


def _webhook_payload(body: bytes) -> Any:
    """What the API hands to `judge` (`api.git_webhook`): the JSON body, or None for a body that is not
    JSON. A body nested past the recursion limit is answered with a 400 before judging: `_TOO_DEEP`."""
    try:
        return json.loads(body)
    except ValueError:
        return None
    except RecursionError:
        return _TOO_DEEP


TARGETS: dict[str, Check] = {
    "yaml": check_yaml,
    "config": check_config,
    "plan": check_saved_plan,
    "snapshot": check_snapshot,
    "webhook": check_webhook,
}
