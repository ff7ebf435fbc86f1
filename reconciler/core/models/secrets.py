"""`secrets/*.yaml`: sealed (encrypted) values that fields reference as `!secret name`.

The core never sees a plaintext: it checks that every reference resolves and fingerprints the
sealed value so a change shows in diffs as `***` changed. The shell unseals at apply time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from reconciler.core.models.common import SecretName, Spec, Text


class SealedSecret(Spec):
    sealed: Annotated[str, Field(min_length=16, pattern=r"^[A-Za-z0-9+/=:._-]+$")] = Field(
        description="the sealed value (base64), as written by the sealing tool"
    )
    description: Text = ""


class SecretsFile(Spec):
    secrets: dict[SecretName, SealedSecret]
