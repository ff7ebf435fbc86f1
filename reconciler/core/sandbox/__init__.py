"""Sandboxed Jinja2 for untrusted router templates, bounded by a deterministic budget.

Where it sits: the core's `building` builds one `TemplateSet` per revision from the template
files it was handed (name -> source, the project's template library included) and checks every
template with it (`check` for syntax, `undeclared_variables` against the declared fields);
`rendering` renders each device with that set (`render(name, context)`; `closure` names the
templates a device's input hash covers). The text goes on to diffing and planning, and a
`TemplateProblem` goes on as that device's problem, with the template and line to show.

Templates arrive in pull requests, so they are hostile until proven otherwise. Three layers keep
a render harmless:

* Jinja's `ImmutableSandboxedEnvironment` (no `_` attributes, no Python internals, no mutation of
  lists and dicts), a curated set of globals, and no loader but the in-memory mapping.
* A step budget instead of a wall clock: loop iterations, calls, includes and work on big values
  cost steps, so a template fails at the same point on every machine and every run. Work is
  charged by the size of what it touches (a value referred to many times counts as often as it
  prints), at rates that keep the costliest template known to about a second at the default
  budget; what charging cannot bound is refused (codecs but utf-8, ascii and latin-1, integers
  wider than `MAX_INT_BITS`, the clock and the machine's time zone).
* Size guards wherever one operation can allocate far more than it reads (`*`, `**`, `%`, `+`,
  `~`, printing, padding and joining filters and methods, list literals that repeat a big value),
  and a bound on text captured by macros and `{% set %}` blocks, which the output counter cannot see.

The meter of the render in progress lives in a context variable, so renders on other threads or
nested renders cannot charge each other. Every failure becomes a `TemplateProblem`.

The modules, each importing only those listed before it:

* `budgets`: `RenderBudget`, the per-render `Meter` (steps, captured text, sizes of values) and
  what work costs; `BudgetExceeded`.
* `problems`: `TemplateProblem`, and turning an exception into one with its template and line.
* `formats`: sizing the result of %-formatting and `str.format` before it is built.
* `methods`: the methods of builtins a template calls, charged and sized; codecs, class methods.
* `guards`: amplification guards inserted into every parsed template, and on operators.
* `filters`: the domain filters (`DOMAIN_FILTERS`), Jinja's filters with size guards (minus the
  removed ones), and the tests.
* `environment`: the sandboxed Jinja environment, its loader, globals and compile hooks.
* `templatesets`: `TemplateSet`, the public entry: compile, check, render, closure.
"""

from reconciler.core.sandbox.budgets import CAPTURE_FACTOR, DEFAULT_BUDGET, MAX_INT_BITS, RenderBudget
from reconciler.core.sandbox.environment import MAX_RANGE
from reconciler.core.sandbox.filters import DOMAIN_FILTERS, broadcast, host, icom_bool, netmask, network, prefixlen
from reconciler.core.sandbox.problems import ProblemKind, TemplateProblem
from reconciler.core.sandbox.templatesets import TemplateSet

__all__ = [
    "CAPTURE_FACTOR",
    "DEFAULT_BUDGET",
    "DOMAIN_FILTERS",
    "MAX_INT_BITS",
    "MAX_RANGE",
    "ProblemKind",
    "RenderBudget",
    "TemplateProblem",
    "TemplateSet",
    "broadcast",
    "host",
    "icom_bool",
    "netmask",
    "network",
    "prefixlen",
]
