"""Architecture rules that import-linter cannot see: the functional core never reads the clock, only the clock
module asks the time, no module reaches into another's private names, and git is reached from one package."""

from __future__ import annotations

import ast
from pathlib import Path

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


PACKAGE = PROJECT / "reconciler"
GIT_PACKAGE = PACKAGE / "shell" / "git"


def _modules() -> list[tuple[Path, str, ast.Module]]:
    """Every module of the package: its path, its dotted name, its syntax tree."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((path, name, ast.parse(path.read_text(), str(path))))
    return found


def _imported_module(node: ast.ImportFrom, module: str, path: Path) -> str:
    """The absolute name of the module `from … import` reads, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_no_module_uses_another_modules_private_names() -> None:
    """No reconciler module imports a `_name` from another reconciler module, nor reaches one through an imported
    name (`billing._ledger`): what two modules share is public, or the module is split."""
    found = []
    for path, module, tree in _modules():
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _imported_module(node, module, path).startswith("reconciler"):
                imported |= {alias.asname or alias.name for alias in node.names}
                found += [f"{path.relative_to(PROJECT)}:{node.lineno}: from {_imported_module(node, module, path)} "
                          f"import {alias.name}" for alias in node.names if _private(alias.name)]
            elif isinstance(node, ast.Import):
                imported |= {alias.asname or alias.name.split(".")[0] for alias in node.names
                             if alias.name.startswith("reconciler")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and _base_name(node.value) in imported:
                found.append(f"{path.relative_to(PROJECT)}:{node.lineno}: {_base_name(node.value)}…{node.attr}")
    assert found == []


def test_the_rule_against_private_imports_sees_relative_and_attribute_uses() -> None:
    """The check above resolves relative imports and sees a private name reached through an imported module."""
    tree = ast.parse("from .plumbing import _cat\nfrom reconciler.shell import billing\nbilling._ledger()\n")
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _imported_module(node, "reconciler.shell.git.history", GIT_PACKAGE / "history.py") == (
        "reconciler.shell.git.plumbing")
    assert _imported_module(node, "reconciler.shell.git", GIT_PACKAGE / "__init__.py") == (
        "reconciler.shell.git.plumbing")
    attribute = tree.body[2]
    assert isinstance(attribute, ast.Expr) and isinstance(attribute.value, ast.Call)
    assert _base_name(attribute.value.func) == "billing" and _private("_ledger") and not _private("__version__")


def test_git_is_reached_from_the_git_package_only() -> None:
    """GitPython (`git`) and the git command are used in reconciler/shell/git/ only: one place translates git's
    errors, and another kind of repository can stand in behind its protocol."""
    found = []
    for path, _, tree in _modules():
        if path.is_relative_to(GIT_PACKAGE):
            continue
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.relative_to(PROJECT)}:{node.lineno}: imports {name}" for name in names
                      if name == "git" or name.startswith("git.")]
            if isinstance(node, ast.Constant) and node.value == "git" and not path.is_relative_to(SIMULATOR):
                found.append(f"{path.relative_to(PROJECT)}:{node.lineno}: runs \"git\"")
    assert found == []
