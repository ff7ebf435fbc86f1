"""Router-management licence files (D0.23–D0.35): the trusted vendor keys, and the signed licences.

Where it sits: `loading` validates `licences/licences.yaml` (`LicencesFile`) and each
`licences/*.licence` (`LicenceFile`) like any other kind; `licences` (the evaluation) checks the
signatures, the articles and their terms against a date. A licence file is what the vendor ships
(D0.34): the `licence` mapping, and a `signature` over it (Ed25519, see `licences.signed_bytes`)
made with one of the keys the fleet trusts.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from reconciler.core.models.common import Name, Spec

LicenceKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{3,63}$"),
    Field(description="the licence key as the vendor issued it, e.g. LIC-2026-000123"),
]
ArticleNumber = Annotated[
    str,
    StringConstraints(pattern=r"^(?:[0-9]{8}|trial)$"),
    Field(description="the vendor's article number, quoted (e.g. '10023610'), or 'trial' (D0.24–D0.33)"),
]
PublicKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$"),
    Field(description="an Ed25519 public key, base64 (from `reconciler licence keygen`)"),
]


class TrustedKey(Spec):
    name: Name
    public_key: PublicKey
    description: str = ""


class LicencesFile(Spec):
    """licences/licences.yaml: the vendor keys whose signatures the fleet accepts (D0.34)."""

    trusted_keys: list[TrustedKey] = Field(min_length=1)


class LicenceTerms(Spec):
    """What the vendor sold: the signed part of a licence file."""

    key: LicenceKey
    article: ArticleNumber
    quantity: int = Field(default=1, ge=1, le=1000, description="how many of the article (each its routers)")
    customer: str = Field(min_length=1, max_length=200)
    purchased: dt.date
    activated: dt.date | None = Field(default=None, description="when the key was activated; none: not yet")


class Signature(Spec):
    key: Name = Field(description="the name of the trusted key that signed (licences/licences.yaml)")
    value: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$", description="Ed25519 signature, base64")


class LicenceFile(Spec):
    """licences/<name>.licence: one licence as the vendor ships it."""

    licence: LicenceTerms
    signature: Signature | None = None
