"""Git webhooks: is a `POST /api/v1/webhooks/git` really from the git host, and which branch moved.

Where it sits: `api` calls `verify` with the request's headers and raw body, and `pushed_branch`
with the parsed body; on success the reconciler fetches at once. One shared secret, checked the
way each host sends it:

    GitHub   X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
    Gitea    X-Gitea-Signature: <hex HMAC-SHA256 of the body>   (Forgejo: X-Forgejo-Signature)
    GitLab   X-Gitlab-Token: <the secret itself>
    generic  X-Signature-256: sha256=<hex HMAC-SHA256 of the body>

Comparisons are constant-time. A missing or wrong signature, or no secret configured, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADERS = {
    "X-Hub-Signature-256": "github",
    "X-Gitea-Signature": "gitea",
    "X-Forgejo-Signature": "gitea",
    "X-Gitlab-Token": "gitlab",
    "X-Signature-256": "generic",
}


def verify(secret: str | None, headers: Mapping[str, str], body: bytes) -> str | None:
    """The sender ('github', 'gitlab', …) if the request carries a valid signature, else None."""
    if not secret:
        return None
    for header, sender in SIGNATURE_HEADERS.items():
        value = headers.get(header)
        if value is None:
            continue
        if sender == "gitlab":
            return sender if hmac.compare_digest(value.encode(), secret.encode()) else None
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        given = value.strip()
        if sender != "gitea":
            if not given.startswith("sha256="):
                return None
            given = given.removeprefix("sha256=")
        return sender if hmac.compare_digest(given.lower().encode(), expected.encode()) else None
    return None


def sign(secret: str, body: bytes) -> str:
    """The `sha256=<hex>` signature GitHub and the generic header carry (for tests and scripts)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pushed_branch(payload: Any) -> str | None:
    """The branch a push event names (`ref: refs/heads/<branch>`), if the payload says."""
    ref = payload.get("ref") if isinstance(payload, dict) else None
    return ref.removeprefix("refs/heads/") if isinstance(ref, str) and ref.startswith("refs/heads/") else None
