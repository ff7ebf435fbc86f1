"""Git webhooks: is a `POST /api/v1/webhooks/git` really from the git host, and is it a push to the branch.

Where it sits: `api` calls `verify` with the request's headers and raw body, and `judge` with the
headers, the parsed body and the followed branch; only a push to that branch makes the reconciler
fetch at once (everything else is acknowledged and ignored). One shared secret, checked the way
each host sends it:

    GitHub   X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
    Gitea    X-Gitea-Signature: <hex HMAC-SHA256 of the body>   (Forgejo: X-Forgejo-Signature)
    GitLab   X-Gitlab-Token: <the secret itself>
    generic  X-Signature-256: sha256=<hex HMAC-SHA256 of the body>

Comparisons are constant-time. A missing or wrong signature, or no secret configured, is refused.

The event, as each host names it (a push's payload carries `ref: refs/heads/<branch>` on all):

    GitHub   X-GitHub-Event: push        (ping, create, pull_request, ... are not pushes)
    Gitea    X-Gitea-Event: push         (X-Forgejo-Event, X-Gogs-Event; Gitea also sends X-GitHub-Event)
    GitLab   X-Gitlab-Event: Push Hook   (Tag Push Hook is not; a System Hook with object_kind push is)
    generic  no event header: the payload's `ref` decides
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADERS = {  # Gitea and Forgejo also send X-Hub-Signature-256: their own header names them first
    "X-Gitea-Signature": "gitea",
    "X-Forgejo-Signature": "gitea",
    "X-Hub-Signature-256": "github",
    "X-Gitlab-Token": "gitlab",
    "X-Signature-256": "generic",
}

# aiohttp hands header bytes that are not UTF-8 over as surrogates; encoding them back must not raise (a 500)
_RAW = "surrogateescape"


def verify(secret: str | None, headers: Mapping[str, str], body: bytes) -> str | None:
    """The sender ('github', 'gitlab', …) if the request carries a valid signature, else None."""
    if not secret:
        return None
    for header, sender in SIGNATURE_HEADERS.items():
        value = headers.get(header)
        if value is None:
            continue
        if sender == "gitlab":
            return sender if hmac.compare_digest(value.encode(errors=_RAW), secret.encode()) else None
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        given = value.strip()
        if sender != "gitea":
            if not given.startswith("sha256="):
                return None
            given = given.removeprefix("sha256=")
        return sender if hmac.compare_digest(given.lower().encode(errors=_RAW), expected.encode()) else None
    return None


def sign(secret: str, body: bytes) -> str:
    """The `sha256=<hex>` signature GitHub and the generic header carry (for tests and scripts)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# the first of these a request carries names its event (Gitea sends its own and GitHub's, alike)
EVENT_HEADERS = ("X-Gitlab-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event", "X-GitHub-Event")
PUSH_EVENTS = frozenset({"push", "push hook"})  # GitHub, Gitea, Forgejo, Gogs; GitLab
BRANCH_PREFIX, TAG_PREFIX = "refs/heads/", "refs/tags/"


@dataclass(frozen=True)
class Verdict:
    """Whether a (verified) webhook call is a push to the followed branch, and if not, why not."""

    act: bool
    reason: str = ""


def judge(headers: Mapping[str, str], payload: Any, branch: str) -> Verdict:
    """Act on a push to `branch` only; a ping, a tag, another branch or another event is ignored."""
    body = payload if isinstance(payload, dict) else {}
    not_a_push = _not_a_push(headers, body, branch)
    if not_a_push is not None:
        return Verdict(False, not_a_push)
    ref = body.get("ref")
    if not isinstance(ref, str):
        return Verdict(False, "no ref in the payload (expected a JSON push payload with ref: refs/heads/<branch>)")
    if ref.startswith(TAG_PREFIX):
        return Verdict(False, f"a tag push ({ref}), not a push to {branch}")
    pushed = ref.removeprefix(BRANCH_PREFIX) if ref.startswith(BRANCH_PREFIX) else None
    if pushed != branch:
        return Verdict(False, f"a push to {pushed or ref}, not {branch}")
    return Verdict(True)


def _not_a_push(headers: Mapping[str, str], body: dict[str, Any], branch: str) -> str | None:
    """Why the event the headers name is not a push (None: it is one, or no header names it)."""
    header = next((name for name in EVENT_HEADERS if name in headers), None)
    if header is None:
        return None  # a generic sender: the payload's ref decides
    event = headers[header].strip()
    if event.lower() == "ping":
        return f"a ping: the webhook works; pushes to {branch} will be acted on"
    if event.lower() == "system hook" and body.get("object_kind") == "push":
        return None  # a GitLab system hook relaying a project's push
    if event.lower() not in PUSH_EVENTS:
        return f"a {event!r} event ({header}), not a push"
    return None
