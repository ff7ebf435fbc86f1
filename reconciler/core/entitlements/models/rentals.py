"""PBX software rental paid in service credits (D1): the account, the price lists, the selections.

Where it sits: `loading` validates `rentals/account.yaml` (`AccountFile`), `rentals/prices.yaml`
(`PriceListsFile`) and `rentals/selections/<pbx>.yaml` (`SelectionFile`); `rentals` (the ledger)
rebuilds the timeline of selections from the repository's git history and charges them to the
second. Times must carry their UTC offset (`2026-01-10T09:00:00+01:00`): credits are money.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from reconciler.core.models.common import Name, Spec

RentalArticle = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2}-[0-9]{5}-[0-9]{3}$"),
    Field(description="the vendor's article number, e.g. '01-00010-001' (01-00500-xxx: hardware, never rentable)"),
]
Credits = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4, strict=False)]


class TopUp(Spec):
    key: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{3,63}$", description="the activation key (D1.3)")
    credits: Credits
    at: AwareDatetime = Field(description="when the key was activated on the account (D1.10)")


class AccountFile(Spec):
    """rentals/account.yaml: the customer account and its credit top-ups (D1.3, D1.6, D1.10)."""

    account: str = Field(min_length=1, max_length=64)
    top_ups: list[TopUp] = []


class PriceArticle(Spec):
    article: RentalArticle
    name: str = Field(min_length=1, max_length=120)
    credits_per_month: Credits = Field(description="rent in iSC per average month: 1/12 of the yearly value (D1.4)")
    rentable: bool = True
    partner: bool = Field(default=False, description="third-party or partner software: never rentable (D1.1)")


class PriceList(Spec):
    effective: dt.date = Field(description="the day (00:00 UTC) from which this list is the current one (D1.5)")
    articles: list[PriceArticle] = Field(min_length=1)


class PriceListsFile(Spec):
    """rentals/prices.yaml: the price lists, each from its effective day."""

    price_lists: list[PriceList] = Field(min_length=1)


class Selected(Spec):
    article: RentalArticle
    quantity: int = Field(default=1, ge=0, le=100_000)


class SelectionFile(Spec):
    """rentals/selections/<pbx>.yaml: what one PBX rents now. Its history in git is its billing timeline."""

    pbx: Name
    effective: AwareDatetime | None = Field(
        default=None, description="when this selection was configured (default: the time of the commit that made "
        "it); only a file's first version may lie before its commit, a later one counts from its commit at the "
        "earliest (what was charged stays charged)")
    articles: list[Selected] = []
