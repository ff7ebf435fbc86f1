"""The project's template library (`templates/icom/*.j2`): macros fleet templates may import.

Where it sits: `loading.FleetLoader` hands the library to the core with every revision, under
names like `icom/firewall.j2`. The files ship with the package (pyproject maps the top-level
`templates/` directory to the `reconciler.library` package).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def project_library() -> dict[str, str]:
    """name → source of every library template, e.g. {"icom/firewall.j2": "..."}."""
    root = resources.files("reconciler.library")
    library: dict[str, str] = {}
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            for item in folder.iterdir():
                if item.name.endswith(".j2"):
                    library[f"{folder.name}/{item.name}"] = item.read_text(encoding="utf-8")
    return library
