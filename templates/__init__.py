"""Templates shipped with reconciler, installed as the package `reconciler.library` (see pyproject.toml)."""
