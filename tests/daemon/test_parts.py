"""The daemon's parts on their own: signatures, the configuration file, tokens, log redaction."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler.daemon import logs, obligations, tokens, webhooks
from reconciler.daemon.config import load_config
from reconciler.errors import ConfigError, UsageError
from reconciler.options import seconds
from reconciler.shell.revisions import FleetLoader
from reconciler.shell.store import Store
from tests.conftest import run_cli, small_fleet, write_tree

BODY = b'{"ref": "refs/heads/main", "after": "abc"}'


def test_each_git_hosts_signature_is_accepted_only_with_the_right_secret() -> None:
    """GitHub, Gitea/Forgejo, GitLab and the generic header; a wrong secret, body or format is refused."""
    good = webhooks.sign("secret-1", BODY)
    hexdigest = good.removeprefix("sha256=")
    assert webhooks.verify("secret-1", {"X-Hub-Signature-256": good}, BODY) == "github"
    assert webhooks.verify("secret-1", {"X-Signature-256": good}, BODY) == "generic"
    assert webhooks.verify("secret-1", {"X-Gitea-Signature": hexdigest}, BODY) == "gitea"
    assert webhooks.verify("secret-1", {"X-Forgejo-Signature": hexdigest}, BODY) == "gitea"
    assert webhooks.verify("secret-1", {"X-Gitlab-Token": "secret-1"}, BODY) == "gitlab"
    assert webhooks.verify("secret-2", {"X-Hub-Signature-256": good}, BODY) is None
    assert webhooks.verify("secret-1", {"X-Hub-Signature-256": good}, BODY + b" ") is None
    assert webhooks.verify("secret-1", {"X-Hub-Signature-256": hexdigest}, BODY) is None  # no sha256= prefix
    assert webhooks.verify("secret-1", {"X-Gitlab-Token": "secret-2"}, BODY) is None
    assert webhooks.verify("secret-1", {}, BODY) is None
    assert webhooks.verify(None, {"X-Hub-Signature-256": good}, BODY) is None  # no secret: nothing is trusted
    assert webhooks.judge({}, json.loads(BODY), "main").act
    assert not webhooks.judge({}, {"ref": "refs/tags/v1"}, "main").act


def test_the_configuration_file_is_merged_under_the_command_line_with_paths_relative_to_it(tmp_path: Path) -> None:
    """File values, relative paths resolved next to the file, command-line overrides, durations."""
    file = tmp_path / "etc" / "reconciler.yaml"
    file.parent.mkdir()
    file.write_text("source: /srv/fleet\npoll: 2m\ncredentials: creds.yaml\nlisten: '[::1]:9000'\n"
                    "webhooks: {secret_file: hook.txt}\n")
    (file.parent / "hook.txt").write_text("from-a-file\n")
    config = load_config(file, {"poll": "0.5", "branch": None})
    assert config.source == "/srv/fleet" and config.poll == 0.5
    assert config.options.credentials == file.parent / "creds.yaml"
    assert (config.host, config.port) == ("::1", 9000)
    assert config.webhooks.resolve() == "from-a-file"
    assert seconds("1h30m") == 5400.0 and seconds(3) == 3.0


def test_a_wrong_setting_is_reported_with_its_file_line_and_column(tmp_path: Path) -> None:
    """Unknown keys, bad values and missing secrets say where; nothing starts."""
    file = tmp_path / "reconciler.yaml"
    file.write_text("source: .\nlisten: everywhere\nwebhooks:\n  secrett: x\n")
    with pytest.raises(ConfigError) as error:
        load_config(file, {})
    message = str(error.value)
    assert f"{file}:2:1: listen: Value error, expected HOST:PORT" in message
    assert f"{file}:4:3: webhooks.secrett: Extra inputs are not permitted" in message
    with pytest.raises(ConfigError, match="NO_SUCH_VARIABLE is not set"):
        load_config(None, {"source": ".", "webhooks": {"secret_env": "NO_SUCH_VARIABLE"}}).webhooks.resolve()
    with pytest.raises(ConfigError, match="exclude each other"):
        load_config(None, {"source": ".", "simulate": True, "simulator": "http://127.0.0.1:1"})


def test_serve_with_a_bad_configuration_exits_2_with_the_reason(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The command line maps a configuration error to exit code 2 and one line, no traceback."""
    code, _, err = run_cli(["serve", str(tmp_path), "--listen", "nowhere"], capsys)
    assert code == 2 and "listen: Value error, expected HOST:PORT" in err and "Traceback" not in err


def test_tokens_are_stored_hashed_shown_once_and_names_are_never_reused(tmp_path: Path) -> None:
    """Only the SHA-256 is kept; a revoked token stops working; a taken or odd name is refused."""
    store = Store(tmp_path)
    name, secret = tokens.create(store, "operator", "ci", "tests")
    assert name == "ci" and secret.startswith(tokens.PREFIX)
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("state.sqlite3*"))  # the file and its WAL
    assert secret.encode() not in raw and tokens.digest(secret).encode() in raw
    principal = tokens.authenticate(store, f"Bearer {secret}")
    assert principal is not None and principal.allows(tokens.Role.VIEWER)
    assert not principal.allows(tokens.Role.ADMIN)
    assert store.revoke_token("ci")
    assert tokens.authenticate(store, f"Bearer {secret}") is None
    with pytest.raises(UsageError, match="exists already"):
        tokens.create(store, "viewer", "ci", "tests")
    with pytest.raises(UsageError, match="letters, digits"):
        tokens.create(store, "viewer", "no spaces please", "tests")
    with pytest.raises(UsageError, match="unknown role"):
        tokens.create(store, "root", None, "tests")


def test_log_lines_carry_context_and_never_a_registered_secret() -> None:
    """JSON lines with revision (short) and device; a secret value is masked wherever it appears."""
    stream = io.StringIO()
    logs.setup("json", stream)
    logs.redact("hunter2-long-secret")
    logging.getLogger("reconciler.daemon").warning("login with hunter2-long-secret failed",
                                                   extra={"revision": "a" * 40, "device": "ber-r01"})
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "login with *** failed"
    assert entry["revision"] == "a" * 12 and entry["device"] == "ber-r01" and entry["level"] == "warning"


def test_an_unreachable_router_opens_a_p1_incident_with_its_deadline_under_the_fleets_plan(tmp_path: Path) -> None:
    """D4.9 + D4.2: gold in Europe, lost on Friday 27 November 2026 17:30: reaction due Saturday 09:30."""
    support = ("products:\n  - {name: fleet, purchased: 2026-01-01, plan: gold, region: europe, "
               "plan_started: 2026-01-01, plan_expires: 2027-01-01, covers_fleet: true}\n")
    root = write_tree(tmp_path / "fleet", {**small_fleet(), "services/support.yaml": support})
    revision = FleetLoader().load(root)
    berlin = ZoneInfo("Europe/Berlin")
    lost = dt.datetime(2026, 11, 27, 17, 30, tzinfo=berlin)
    lost_event = {"ber-r01": obligations.UNREACHABLE_EVENT}
    found = obligations.track_incidents({}, lost_event, revision, lost)
    incident = found["ber-r01"]
    assert (incident.event, incident.priority, incident.plan) == ("cloud connection lost", "P1", "gold")
    assert incident.reaction_due == dt.datetime(2026, 11, 28, 9, 30, tzinfo=berlin)
    later = obligations.track_incidents(found, lost_event, revision, lost + dt.timedelta(hours=1))
    assert later["ber-r01"].opened_at == lost  # still the same incident
    assert obligations.track_incidents(later, {}, revision, lost) == {}  # reachable again: closed
    over = obligations.track_incidents({}, {obligations.FLEET: obligations.OVER_LICENCE_EVENT}, revision, lost)
    assert (over[obligations.FLEET].event, over[obligations.FLEET].priority) == ("licence exceeded", "P3")
    many = obligations.track_incidents({}, {**{f"r{i}": obligations.UNREACHABLE_EVENT for i in range(2)},
                                            obligations.FLEET: obligations.OVER_LICENCE_EVENT}, revision, lost)
    assert many[obligations.FLEET].priority == "P2"  # three at once: raised a level (D2.13)
