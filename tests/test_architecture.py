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
