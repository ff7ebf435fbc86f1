"""Schemas: the JSON Schema of every file kind, generated from the pydantic models.

Where it sits: `reconciler schema` writes them to `schemas/` (checked in; a test fails when they
are stale); editors' YAML language servers use them for completion and checks while typing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from reconciler.core.models import FILE_KINDS
from reconciler.core.observed import ObservedSnapshot

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://reconciler.dev/schemas/"


def json_schemas() -> dict[str, dict[str, Any]]:
    """A purely computational function: file name → JSON Schema, for every file kind."""
    schemas = {kind.schema_file: _schema(kind.model, kind.schema_file, kind.description) for kind in FILE_KINDS}
    schemas["observed.schema.json"] = _schema(
        ObservedSnapshot, "observed.schema.json", "observed-state snapshot (reconciler plan --observed)"
    )
    return schemas


def _schema(model: type[BaseModel], file: str, description: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": BASE_ID + file, "title": description, **body}
