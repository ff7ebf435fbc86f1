"""`TemplateSet`: the compiled templates of one revision, and the only way in to the sandbox.

One `SandboxEnvironment` per set compiles each template once (and caches its parsed tree for the
questions that need no render). `render` runs one template under a fresh `Meter` and bounds its
output; `check`, `undeclared_variables` and `closure` answer the core's `building` and change
detection without rendering. Every failure leaves as a `TemplateProblem` (`problems`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from itertools import islice
from typing import Any, Final, cast

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.meta import find_referenced_templates, find_undeclared_variables
from jinja2.utils import concat

from reconciler.core.sandbox.budgets import DEFAULT_BUDGET, METER, BudgetExceeded, Meter, RenderBudget
from reconciler.core.sandbox.environment import SandboxEnvironment
from reconciler.core.sandbox.problems import (
    COMPILE_ERRORS,
    TemplateProblem,
    compile_problem,
    not_found,
    render_problem,
    syntax_problem,
)

# Output is pulled from the template generator in batches so the counting stays in C.
_OUTPUT_BATCH: Final = 64


class TemplateSet:
    """Compiled templates of one revision (plus the project's library), rendered in the sandbox."""

    def __init__(self, sources: Mapping[str, str], budget: RenderBudget = DEFAULT_BUDGET) -> None:
        self._sources: dict[str, str] = dict(sources)
        self._budget = budget
        self._env = SandboxEnvironment(self._sources)
        self._trees: dict[str, nodes.Template] = {}

    def check(self, name: str) -> TemplateProblem | None:
        """Compile `name` and the templates it names literally; the first syntax problem, or None."""
        if name not in self._sources:
            return not_found(name)
        others = sorted(self._literal_closure(name)[0] - {name})
        for each in (name, *others):
            if each not in self._sources:
                continue  # a render reports the missing template at the line that names it
            try:
                self._env.get_template(each)
            except TemplateSyntaxError as error:
                return syntax_problem(error, each)
            except COMPILE_ERRORS as error:
                return compile_problem(error, each)
        return None

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render `name` with `context` under a fresh budget; raises `TemplateProblem`."""
        meter = Meter(self._budget)
        token = METER.set(meter)
        try:
            return self._render(name, context, meter)
        except TemplateProblem:
            raise
        except TemplateSyntaxError as error:
            raise syntax_problem(error, name) from error
        except Exception as error:
            raise render_problem(error, name, self._sources) from error
        finally:
            METER.reset(token)

    def undeclared_variables(self, name: str) -> frozenset[str]:
        """Names `name` reads from its context (not those of templates it includes)."""
        found = find_undeclared_variables(self._tree(name))
        return frozenset(found - self._env.globals.keys())

    def closure(self, name: str) -> frozenset[str]:
        """`name` and every template it imports, includes or extends, transitively.

        A reference that is not a literal (or a template that does not parse, whose references
        are unknown) could be any template: the closure is then the whole set.
        """
        names, complete = self._literal_closure(name)
        return names if complete else names | frozenset(self._sources)

    def _render(self, name: str, context: Mapping[str, Any], meter: Meter) -> str:
        try:
            template = self._env.get_template(name)
        except COMPILE_ERRORS as error:
            raise compile_problem(error, name) from None
        generator = cast("Generator[str, None, None]", template.generate(context))
        parts: list[str] = []
        size = 0
        while batch := list(islice(generator, _OUTPUT_BATCH)):
            size += sum(map(len, batch))
            if size > meter.max_output:
                exceeded = BudgetExceeded(f"output larger than {meter.max_output} characters")
                # Thrown into the template so the traceback points at the line that wrote it.
                generator.throw(exceeded)
                raise exceeded
            parts += batch
        return concat(parts)

    def _tree(self, name: str) -> nodes.Template:
        tree = self._trees.get(name)
        if tree is None:
            source = self._sources.get(name)
            if source is None:
                raise not_found(name)
            try:
                tree = self._env.parse(source, name, name)
            except TemplateSyntaxError as error:
                raise syntax_problem(error, name) from error
            except COMPILE_ERRORS as error:
                raise compile_problem(error, name) from None
            self._trees[name] = tree
        return tree

    def _references(self, name: str) -> frozenset[str] | None:
        """Templates `name` names literally; None when one reference is not literal or unknown."""
        if name not in self._sources:
            return frozenset()
        try:
            found = list(find_referenced_templates(self._tree(name)))
        except TemplateProblem:
            return None
        if any(each is None for each in found):
            return None
        return frozenset(each for each in found if each is not None)

    def _literal_closure(self, name: str) -> tuple[frozenset[str], bool]:
        seen = {name}
        pending = [name]
        complete = True
        while pending:
            references = self._references(pending.pop())
            if references is None:
                complete = False
                continue
            for reference in references - seen:
                seen.add(reference)
                pending.append(reference)
        return frozenset(seen), complete
