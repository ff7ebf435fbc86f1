"""Webhooks by event type, with the headers and payloads GitHub, GitLab and Gitea send: only a push to the
followed branch fetches; a ping, a tag, another branch or another event is acknowledged and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.daemon import webhooks
from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for

pytestmark = pytest.mark.slow

SECRET = "forge-webhook-secret"
ZEROS = "0" * 40
REPOSITORY = {"id": 1296269, "name": "fleet", "full_name": "netops/fleet", "default_branch": "main",
              "clone_url": "https://git.example.com/netops/fleet.git"}
SENDER = {"login": "ada", "id": 1}


def github(event: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "X-GitHub-Hook-ID": "292430182", "User-Agent": "GitHub-Hookshot/044aadd",
            "X-Hub-Signature-256": webhooks.sign(SECRET, body), "Content-Type": "application/json"}, body


def gitlab(event: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": SECRET, "X-Gitlab-Instance": "https://gitlab.example.com",
            "User-Agent": "GitLab/16.8.0", "Content-Type": "application/json"}, json.dumps(payload).encode()


def gitea(event: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """Gitea sends its own event and signature headers and GitHub's (and Gogs') alike."""
    body = json.dumps(payload).encode()
    signature = webhooks.sign(SECRET, body)
    return {"X-Gitea-Event": event, "X-Gitea-Event-Type": event, "X-Gogs-Event": event, "X-GitHub-Event": event,
            "X-Gitea-Delivery": "a6ee1a5d-3f0b-4d54-9a8e-2b1b5d2f6f01", "X-Gitea-Signature": signature[7:],
            "X-Hub-Signature-256": signature, "Content-Type": "application/json"}, body


def github_push(ref: str, after: str) -> dict[str, Any]:
    return {"ref": ref, "before": ZEROS, "after": after, "created": ref.startswith("refs/tags/"), "deleted": False,
            "forced": False, "base_ref": None, "compare": "https://github.com/netops/fleet/compare/x",
            "commits": [], "head_commit": {"id": after, "message": "change"}, "repository": REPOSITORY,
            "pusher": {"name": "ada", "email": "ada@example.com"}, "sender": SENDER}


def gitlab_push(kind: str, ref: str, after: str) -> dict[str, Any]:
    return {"object_kind": kind, "event_name": kind, "before": ZEROS, "after": after, "ref": ref,
            "ref_protected": True, "checkout_sha": after, "user_name": "Ada", "user_username": "ada",
            "project_id": 15, "project": {"id": 15, "name": "fleet", "path_with_namespace": "netops/fleet",
                                          "default_branch": "main"},
            "commits": [], "total_commits_count": 0, "repository": {"name": "fleet"}}


def gitea_push(ref: str, after: str) -> dict[str, Any]:
    return {"ref": ref, "before": ZEROS, "after": after, "compare_url": "", "commits": [], "total_commits": 0,
            "head_commit": None, "repository": REPOSITORY, "pusher": SENDER, "sender": SENDER}


def test_only_pushes_to_the_followed_branch_fetch_and_are_audited(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Pings, tag pushes (GitHub, GitLab, Gitea's create), pushes to another branch and other events answer 202
    with accepted false and a reason, and neither fetch nor audit; a push to main from each forge does both."""
    repo = fleet_repo()
    slow = repo.files["fleet.yaml"].replace("interval: 1s", "interval: 1h")  # no fetch but by webhook
    start = repo.commit({**repo.files, "fleet.yaml": slow}, "sync hourly")
    config = tmp_path / "reconciler.yaml"
    config.write_text(f"webhooks:\n  secret: {SECRET}\n")
    daemon = serve(repo.root, "--simulate", "--poll", "3600", "--config", str(config), key=repo.key_file)
    wait_for(lambda: daemon.converged_at(start), what="the first revision applied")
    audited = daemon.get("/api/v1/audit").body["total"]
    pushed = repo.commit({**repo.files, "fleet.yaml": slow.replace("pool", "hooked")}, "a push")

    ignored = {
        "github ping": github("ping", {"zen": "Design for failure.", "hook_id": 292430182, "hook": {
            "type": "Repository", "events": ["push"], "active": True, "config": {"content_type": "json"}},
            "repository": REPOSITORY, "sender": SENDER}),
        "github tag": github("push", github_push("refs/tags/v1.0", pushed)),
        "github other branch": github("push", github_push("refs/heads/feature", pushed)),
        "github pull request": github("pull_request", {"action": "opened", "number": 7, "repository": REPOSITORY}),
        "gitlab tag": gitlab("Tag Push Hook", gitlab_push("tag_push", "refs/tags/v1.0", pushed)),
        "gitlab merge request": gitlab("Merge Request Hook", {"object_kind": "merge_request",
                                                              "object_attributes": {"target_branch": "main"}}),
        "gitea tag created": gitea("create", {"sha": pushed, "ref": "v1.0", "ref_type": "tag",
                                              "repository": REPOSITORY, "sender": SENDER}),
        "gitea tag": gitea("push", gitea_push("refs/tags/v1.0", pushed)),
        "gitea other branch": gitea("push", gitea_push("refs/heads/feature", pushed)),
    }
    hook = daemon.url + "/api/v1/webhooks/git"
    for what, (headers, body) in ignored.items():
        answer = call(hook, "POST", raw=body, headers=headers)
        assert answer.status == 202 and answer.body["accepted"] is False, (what, answer.body)
        assert answer.body["reason"], what
    reasons = {what: call(hook, "POST", raw=body, headers=headers).body["reason"]
               for what, (headers, body) in ignored.items()}
    assert reasons["github ping"].startswith("a ping")
    assert "tag push" in reasons["github tag"] and "tag push" in reasons["gitea tag"]
    assert reasons["gitlab tag"] == "a 'Tag Push Hook' event (X-Gitlab-Event), not a push"
    assert reasons["github other branch"] == "a push to feature, not main"
    assert daemon.status()["revision"]["desired"] == start  # nothing was fetched
    assert daemon.get("/api/v1/audit").body["total"] == audited  # nor audited

    for sender, (headers, body) in (("gitlab", gitlab("Push Hook", gitlab_push("push", "refs/heads/main", pushed))),
                                    ("github", github("push", github_push("refs/heads/main", pushed))),
                                    ("gitea", gitea("push", gitea_push("refs/heads/main", pushed)))):
        answer = call(hook, "POST", raw=body, headers=headers)
        assert answer.status == 202 and answer.body == {"accepted": True}, sender
        rows = daemon.get("/api/v1/audit?limit=1").body["rows"]
        assert (rows[0]["actor"], rows[0]["action"]) == (f"webhook:{sender}", "fetch")
        wait_for(lambda: daemon.status()["revision"]["desired"] == pushed, what=f"the push fetched after {sender}")
    wait_for(lambda: daemon.converged_at(pushed), what="the pushed commit applied")
