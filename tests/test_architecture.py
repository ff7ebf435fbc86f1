"""Architecture rules that import-linter cannot see: the functional core never reads the clock."""

from __future__ import annotations

import ast

from tests.conftest import PROJECT

CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns", "getenv", "urandom"}


def test_the_core_never_reads_the_clock_or_the_environment() -> None:
    """No call in reconciler/core is to now(), today(), time(), getenv() or urandom(): `now` is an argument."""
    found = []
    for path in sorted((PROJECT / "reconciler" / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
                found.append(f"{path.relative_to(PROJECT)}:{node.lineno}: .{node.func.attr}()")
    assert found == []


TIME_OWNERS = {"datetime", "dt", "date", "time", "asyncio", "loop"}  # what a direct clock call is made on
TIME_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter", "sleep"}
CLOCK_MODULE = PROJECT / "reconciler" / "shell" / "clock.py"
SIMULATOR = PROJECT / "reconciler" / "simulator"  # the routers' side keeps its own clock


def _owner(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):  # asyncio.get_running_loop().time()
        return "loop" if isinstance(node.func, ast.Attribute) and node.func.attr.endswith("_loop") else None
    return None


def test_only_the_clock_module_asks_the_time_or_waits() -> None:
    """Outside shell/clock.py (and the simulator) nothing calls datetime.now, time.monotonic, asyncio.sleep …:
    everything asks an injected Clock, so RECONCILER_NOW pins every command and tests run on a virtual clock."""
    found = []
    for path in sorted((PROJECT / "reconciler").rglob("*.py")):
        if path == CLOCK_MODULE or path.is_relative_to(SIMULATOR):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in TIME_CALLS and _owner(node.func.value) in TIME_OWNERS):
                found.append(f"{path.relative_to(PROJECT)}:{node.lineno}: {_owner(node.func.value)}.{node.func.attr}()")
    assert found == []
