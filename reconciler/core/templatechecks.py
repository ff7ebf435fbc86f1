"""Template checks: a revision's `.j2` files and their declarations in, the checked templates out.

Where it sits: `validation._Builder` calls `check_templates` while it builds the revision's
`Catalog`. Every `templates/<name>.j2` needs its field declarations (`templates/<name>.yaml`) and
the other way round; each declaration must be valid and must not use a name of the template
context; each template must compile and read only the fields it declares (D0.11, D0.16). The
`TemplateSet` built here (repository templates plus the project's library) is the one `rendering`
renders with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass

from reconciler.core import fieldtypes, limits
from reconciler.core.fleets import CONTEXT_NAMES, Located, SourceFile, Template, template_file
from reconciler.core.models import TemplateSpec
from reconciler.core.problems import Origin, Problem, did_you_mean, error
from reconciler.core.sandbox import TemplateSet


@dataclass(frozen=True)
class CheckedTemplates:
    """What `check_templates` hands on."""

    templates: dict[str, Template]  # declared templates whose `.j2` exists, by name
    sources: dict[str, str]  # every template of the set by its name there: the library's and the repository's
    template_set: TemplateSet
    unusable: frozenset[str]  # templates too large to read or that do not compile: their devices are not rendered
    problems: tuple[Problem, ...]


def check_templates(declared: Mapping[str, Located], files: Mapping[str, SourceFile], library: Mapping[str, str],
                    oversized: Mapping[str, int], broken: Set[str]) -> CheckedTemplates:
    """A purely computational function: collect and check every template of a revision.

    `declared` holds the template declarations by name, `files` every file of the revision,
    `library` the project's template library, `oversized` the files the shell did not read for
    their size, `broken` the kinds of files that have errors (an undeclared `.j2` is not reported
    while a declaration file is broken).
    """
    problems: list[Problem] = []
    sources, unreadable = _sources(files, library, oversized, problems)
    templates = _declared_templates(declared, files, problems)
    if "template" not in broken:
        problems.extend(_undeclared_templates(files, templates))
    template_set = TemplateSet(sources)
    unusable = {template.name for template in templates.values() if template.path in unreadable}
    for template in templates.values():
        if template.path in unreadable:
            continue
        syntax = _syntax_problem(template, template_set)
        if syntax is not None:
            problems.append(syntax)
            unusable.add(template.name)
        else:
            problems.extend(_undeclared_fields(template, template_set, files))
    return CheckedTemplates(templates, sources, template_set, frozenset(unusable), tuple(problems))


def _sources(files: Mapping[str, SourceFile], library: Mapping[str, str], oversized: Mapping[str, int],
             problems: list[Problem]) -> tuple[dict[str, str], set[str]]:
    """The template set's sources (name → text), and the paths of templates too large to read (reported)."""
    sources = dict(library)
    unreadable: set[str] = set()
    for path, source in files.items():
        if path.startswith("templates/") and path.endswith(".j2"):
            too_large = limits.oversize_problem(path, source.data, oversized, limits.TEMPLATE_BYTES)
            if too_large is not None:
                problems.append(too_large)
                unreadable.add(path)
                continue
            sources[path.removeprefix("templates/")] = source.data.decode("utf-8", errors="replace")
    return sources, unreadable


def _declared_templates(declared: Mapping[str, Located], files: Mapping[str, SourceFile],
                        problems: list[Problem]) -> dict[str, Template]:
    """The declared templates whose `.j2` exists; their declarations checked (problems reported)."""
    templates: dict[str, Template] = {}
    for name, item in declared.items():
        j2 = f"templates/{name}.j2"
        if j2 not in files:
            problems.append(error("missing-template", f"{item.origin.file} declares fields for {j2}, "
                                  "which does not exist", item.origin))
            continue
        templates[name] = Template(name, item.spec, j2, item.origin.file)
        problems.extend(_declaration_problems(item.spec, item.origin))
    return templates


def _undeclared_templates(files: Mapping[str, SourceFile], templates: Mapping[str, Template]) -> list[Problem]:
    problems = []
    for path in files:
        if path.startswith("templates/") and path.endswith(".j2") and path.count("/") == 1:
            name = path.removeprefix("templates/").removesuffix(".j2")
            if name not in templates:
                message = f"template {path} has no field declarations (templates/{name}.yaml)"
                problems.append(error("missing-declarations", message, Origin(path)))
    return problems


def _declaration_problems(spec: TemplateSpec, origin: Origin) -> list[Problem]:
    problems = []
    for name, field_spec in spec.fields.items():
        if name in CONTEXT_NAMES:
            problems.append(error("reserved-field", f"field name {name!r} is reserved for the template context",
                                  origin.child("fields").key(name)))
        problems.extend(error("field-declaration", f"field {name!r}: {message}", origin.child("fields", name))
                        for message in fieldtypes.check_declaration(field_spec))
    return problems


def _syntax_problem(template: Template, template_set: TemplateSet) -> Problem | None:
    """The template, or one it imports, does not compile."""
    problem = template_set.check(template.path.removeprefix("templates/"))
    if problem is None:
        return None
    return error("template-syntax", problem.message, Origin(template_file(problem.template), line=problem.line, col=1))


def _undeclared_fields(template: Template, template_set: TemplateSet,
                       files: Mapping[str, SourceFile]) -> list[Problem]:
    """The variables the template reads that are neither declared fields nor the context."""
    problems = []
    declared = set(template.spec.fields) | CONTEXT_NAMES
    for variable in sorted(template_set.undeclared_variables(template.path.removeprefix("templates/")) - declared):
        line = _first_line(files[template.path].data, variable)
        suggestion = did_you_mean(variable, template.spec.fields)
        message = f"template reads {variable!r}, which {template.declaration} does not declare{suggestion}"
        problems.append(error("undeclared-field", message, Origin(template.path, line=line, col=1)))
    return problems


def _first_line(data: bytes, variable: str) -> int:
    pattern = re.compile(rb"\b" + re.escape(variable.encode()) + rb"\b")
    match = pattern.search(data)
    return data.count(b"\n", 0, match.start()) + 1 if match else 1
