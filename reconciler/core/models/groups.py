"""`groups.yaml`: device groups (D0.10), by explicit members and/or label selectors, with group fields.

The order groups are declared in is their precedence: a later group's field overrides an earlier
one's, and the device's own fields override both.
"""

from __future__ import annotations

from pydantic import Field

from reconciler.core.models.common import Model, Name, Spec, Tag, Text
from reconciler.core.models.layers import LayerSpec


class Selector(Spec):
    """Label selector: every given condition must hold; within `model`/`site` any entry may match."""

    model: list[Model] | None = Field(default=None, description="the device's model is one of these")
    site: list[Name] | None = Field(default=None, description="the device's site is one of these")
    tags: list[Tag] | None = Field(default=None, description="the device carries all of these tags")


class GroupSpec(LayerSpec):
    name: Name
    description: Text = ""
    members: list[Name] = Field(default=[], description="devices that belong to the group by name")
    selector: Selector | None = None


class GroupsFile(Spec):
    groups: list[GroupSpec]
