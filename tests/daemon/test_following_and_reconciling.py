"""The daemon end to end: a real git repository pushed to, `reconciler serve` as a process, routers over sockets."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.daemon import webhooks
from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for
from tests.live.conftest import Simulator

pytestmark = pytest.mark.slow

SERIALS = ("24130001", "24130002", "24130003")
BAD_DEVICE = "  - {name: bad-r01, serial: \"24139999\", model: MRX5 LTE, address: https://10.9.9.9, template: nope}\n"


def test_a_good_commit_converges_every_router(fleet_repo: Callable[..., FleetRepo],
                                              serve: Callable[..., ServeProcess]) -> None:
    """The daemon clones the branch, applies its head to every router and reports it applied."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    status = wait_for(lambda: daemon.converged_at(repo.head), what="the first revision applied")
    assert status["state"] == "ok"
    assert status["counts"] == {"in-sync": 3}
    for serial in SERIALS:
        router = daemon.router(serial)
        assert router["firmware"] == "10.6"
        assert router["configuration"]["administration.time.ntp_server[1].server"] in ("pool.ntp.org",
                                                                                      "ntp.eu.example.net")
    runs = daemon.get("/api/v1/runs").body["runs"]
    assert runs[0]["kind"] == "reconcile" and runs[0]["counts"] == {"converged": 3}


def test_an_invalid_commit_degrades_is_audited_applies_nothing_and_keeps_the_last_good_until_a_fix(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """A head that fails validation is never applied: degraded with the errors, logged at their positions,
    audited with its author; a fixing commit converges."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    good = repo.head
    wait_for(lambda: daemon.converged_at(good), what="the good revision applied")
    runs_before = len(daemon.get("/api/v1/runs").body["runs"])

    broken = {**repo.files, "devices/all.yaml": repo.files["devices/all.yaml"] + BAD_DEVICE,
              "groups.yaml": repo.files["groups.yaml"].replace("ntp.eu.example.net", "ntp.broken.example.net")}
    bad = repo.commit(broken, "a device with a template that does not exist")
    status = wait_for(lambda: (s := daemon.status())["state"] == "degraded" and s, what="degraded")
    assert status["revision"] == {"desired": bad, "last_good": good, "applied": good}
    assert bad[:10] in status["degraded"]
    problem = next(p for p in status["problems"] if "nope" in p["message"])
    assert problem["file"] == "devices/all.yaml"
    assert problem["line"] == repo.files["devices/all.yaml"].count("\n") + 1  # the line added
    metrics = daemon.get("/metrics").body
    assert "reconciler_degraded 1.0" in metrics
    rejected = [row for row in daemon.get("/api/v1/audit").body["rows"] if row["action"] == "reject"]
    assert [(row["revision"], row["outcome"]) for row in rejected] == [(bad, "rejected")]
    assert "by Test <test@example.invalid>" in rejected[0]["detail"]
    assert f"{len(status['problems'])} problems" in rejected[0]["detail"]
    where = f"devices/all.yaml:{problem['line']}:{problem['col']}: error: "
    assert any(record["message"].startswith(where) for record in daemon.log_records())
    daemon.post("/api/v1/sync")  # even a forced cycle reconciles the last good revision only
    wait_for(lambda: daemon.status()["cycles"] >= 2, what="a second cycle")
    assert daemon.router("24130001")["configuration"]["administration.time.ntp_server[1].server"] == \
        "ntp.eu.example.net"
    assert len(daemon.get("/api/v1/runs").body["runs"]) == runs_before  # nothing was applied

    fixed = repo.commit({**broken, "devices/all.yaml": repo.files["devices/all.yaml"]}, "fix")
    status = wait_for(lambda: daemon.converged_at(fixed), what="the fix applied")
    assert status["state"] == "ok" and status["problems"] == []
    assert daemon.router("24130001")["configuration"]["administration.time.ntp_server[1].server"] == \
        "ntp.broken.example.net"


def test_a_force_push_is_followed_and_a_deleted_branch_degrades_without_stopping(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """Rewritten history moves the daemon to the new head; a deleted branch keeps the last fetched commit."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="applied")
    changed = {**repo.files, "fleet.yaml": repo.files["fleet.yaml"].replace("pool.ntp.org", "time.example.net")}
    first = repo.commit(changed, "first")
    wait_for(lambda: daemon.converged_at(first), what="first applied")
    repo.git("reset", "--quiet", "--hard", repo.head)
    rewritten = repo.commit({**repo.files, "fleet.yaml": repo.files["fleet.yaml"].replace(
        "pool.ntp.org", "rewritten.example.net")}, "rewritten history")
    wait_for(lambda: daemon.converged_at(rewritten), what="the force-pushed head applied")
    assert daemon.router("24130003")["configuration"]["administration.time.ntp_server[1].server"] == \
        "rewritten.example.net"

    repo.git("checkout", "--quiet", "-b", "other")
    repo.git("branch", "-D", "main")
    status = wait_for(lambda: (s := daemon.status())["state"] == "degraded" and s, what="degraded")
    assert "does not exist" in status["degraded"] and status["revision"]["last_good"] == rewritten
    assert daemon.process.poll() is None
    assert daemon.get("/healthz").status == 200


def test_a_signed_webhook_fetches_at_once_and_a_bad_signature_is_refused(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """GitHub-, GitLab-, Gitea-style and generic signatures are checked; a wrong or missing one changes nothing."""
    repo = fleet_repo()
    config = repo.root.parent / "reconciler.yaml"
    config.write_text("webhooks:\n  secret_env: TEST_WEBHOOK_SECRET\n")
    daemon = serve(repo.root, "--simulate", "--poll", "3600", "--config", str(config), key=repo.key_file,
                   env={"TEST_WEBHOOK_SECRET": "s3cret-for-hooks"})
    wait_for(lambda: daemon.converged_at(repo.head), what="applied")
    pushed = repo.commit({**repo.files, "fleet.yaml": repo.files["fleet.yaml"].replace("pool", "hook")}, "push")
    body = b'{"ref": "refs/heads/main"}'
    hook = daemon.url + "/api/v1/webhooks/git"
    for headers in ({}, {"X-Hub-Signature-256": webhooks.sign("wrong", body)}, {"X-Gitlab-Token": "wrong"},
                    {"X-Gitea-Signature": "00" * 32}):
        answer = call(hook, "POST", raw=body, headers={"Content-Type": "application/json", **headers})
        assert answer.status == 401, headers
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert daemon.status()["revision"]["desired"] == repo.head  # nothing fetched

    other = call(hook, "POST", raw=b'{"ref": "refs/heads/feature"}', headers={
        "X-Hub-Signature-256": webhooks.sign("s3cret-for-hooks", b'{"ref": "refs/heads/feature"}')})
    assert other.status == 202 and other.body["accepted"] is False
    good = call(hook, "POST", raw=body, headers={"X-Hub-Signature-256": webhooks.sign("s3cret-for-hooks", body)})
    assert good.status == 202 and good.body == {"accepted": True}
    wait_for(lambda: daemon.converged_at(pushed), timeout=20, what="the pushed commit applied after the hook")
    for headers in ({"X-Gitlab-Token": "s3cret-for-hooks"},
                    {"X-Signature-256": webhooks.sign("s3cret-for-hooks", body)}):
        assert call(hook, "POST", raw=body, headers=headers).status == 202
    audit = daemon.get("/api/v1/audit").body["rows"]
    assert {"webhook:github", "webhook:gitlab", "webhook:generic"} <= {row["actor"] for row in audit}
    assert not any("s3cret-for-hooks" in line for line in daemon.lines)


@pytest.mark.parametrize("heal", [True, False])
def test_drift_is_corrected_with_self_heal_and_only_reported_without(
        heal: bool, fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """A key changed by hand on a converged router is drift: corrected with self_heal, else reported."""
    repo = fleet_repo(heal=heal)
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="applied")
    key = "administration.hostnames.hostname"
    daemon.poke("24130002", "configuration", {"set": {key: "changed-by-hand"}})
    drift = wait_for(lambda: (d := daemon.get("/api/v1/drift").body)["history"] and d, what="drift seen")
    assert drift["history"][0]["device"] == "ber-r02"
    assert drift["history"][0]["action"] == ("corrected" if heal else "reported")
    if heal:
        wait_for(lambda: daemon.router("24130002")["configuration"][key] == "ber-r02", what="drift corrected")
        wait_for(lambda: daemon.get("/api/v1/drift").body["devices"] == [], what="no drift left")
    else:
        wait_for(lambda: daemon.status()["cycles"] >= 3, what="two more cycles")
        assert daemon.router("24130002")["configuration"][key] == "changed-by-hand"
        assert [d["device"] for d in daemon.get("/api/v1/drift").body["devices"]] == ["ber-r02"]
        assert "reconciler_drifted_devices 1.0" in daemon.get("/metrics").body
        assert daemon.get("/api/v1/devices/ber-r02").body["drifted"] is True


def test_sigterm_stops_cleanly_and_a_restart_applies_nothing_twice(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess],
        simulator: Callable[..., Simulator]) -> None:
    """kill -9 in the middle of firmware reboots, restart: the fleet converges and no step ran twice."""
    repo = fleet_repo()
    routers = simulator("--fleet", str(repo.root), "--profile", "perfect", "--reboot-seconds", "1.5")
    args = ("--simulator", routers.url, "--poll", "0.2", "--credentials", str(_factory_credentials(repo)))
    first = serve(repo.root, *args, key=repo.key_file)
    wait_for(lambda: any(routers.state(s)["history"] for s in SERIALS), what="the first firmware step")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    second = serve(repo.root, *args, key=repo.key_file)
    wait_for(lambda: all(routers.state(s)["firmware"] == "10.6" and routers.state(s)["reachable"]
                         and any(h.startswith("apply") for h in routers.state(s)["history"]) for s in SERIALS),
             timeout=60, what="every router converged after the restart")
    for serial in SERIALS:
        history = routers.state(serial)["history"]
        assert history.count("firmware 10.6") == 1, history
        assert len(history) == len(set(history)), history
    assert second.stop(signal.SIGTERM) == 0


def _factory_credentials(repo: FleetRepo) -> Path:
    path = repo.root.parent / "credentials.yaml"
    path.write_text("default: {username: admin, password: admin}\n")
    return path


def test_watch_plans_every_save_and_applies_only_what_is_committed(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """--watch: a saved change prints its plan, a broken save its problems; only the commit reaches routers."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--watch", "--poll", "0.3", key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="applied")
    fleet_yaml = repo.root / "fleet.yaml"
    fleet_yaml.write_text(repo.files["fleet.yaml"].replace("pool.ntp.org", "saved.example.net"))
    wait_for(lambda: any("commit to apply this plan" in line for line in daemon.stdout), what="the plan printed")
    printed = "".join(daemon.stdout)
    assert "nwk-r01" in printed and "3 devices to change" in printed
    key = "administration.time.ntp_server[1].server"
    assert daemon.router("24130003")["configuration"][key] == "pool.ntp.org"  # saved, not applied

    fleet_yaml.write_text(repo.files["fleet.yaml"].replace("firmware: \"10.6\"", "firmware: 10.6.x: [oops"))
    wait_for(lambda: any("not valid (nothing will be applied)" in line for line in daemon.stdout),
             what="the problems printed")
    committed = repo.commit({"fleet.yaml": repo.files["fleet.yaml"].replace("pool.ntp.org", "committed.example.net")},
                            "commit it")
    wait_for(lambda: daemon.converged_at(committed), what="the commit applied")
    assert daemon.router("24130003")["configuration"][key] == "committed.example.net"


def test_an_offline_router_is_marked_unreachable_retried_and_converges_when_back(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess],
        simulator: Callable[..., Simulator]) -> None:
    """One router offline: the others converge, it is 'offline' (not failed), and it converges once back."""
    repo = fleet_repo()
    routers = simulator("--fleet", str(repo.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    routers.poke("24130002", "offline")
    daemon = serve(repo.root, "--simulator", routers.url, "--poll", "0.2", "--credentials",
                   str(_factory_credentials(repo)), key=repo.key_file)
    status = wait_for(lambda: (s := daemon.status())["counts"] == {"in-sync": 2, "offline": 1} and s,
                      what="two converged, one offline")
    assert status["revision"]["applied"] == repo.head  # every reachable router has it; the offline one is counted
    device = daemon.get("/api/v1/devices/ber-r02").body
    assert device["status"] == "offline" and device["last_outcome"] == "unreachable"
    incident = status["incidents"][0]  # D4.9: an unreachable router is "cloud connection lost", P1
    assert (incident["device"], incident["event"], incident["priority"]) == ("ber-r02", "cloud connection lost",
                                                                            "P1")
    routers.poke("24130002", "online")
    wait_for(lambda: daemon.status()["counts"] == {"in-sync": 3}, what="converged once the router is back")
    assert daemon.status()["incidents"] == []  # closed
    assert daemon.get("/api/v1/devices/ber-r02").body["last_outcome"] == "converged"
    assert routers.state("24130002")["firmware"] == "10.6"


def test_a_commit_where_one_device_fails_to_render_is_applied_to_no_router(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """The daemon never applies what `validate` rejects: one router's render error blocks the whole commit."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    good = repo.head
    wait_for(lambda: daemon.converged_at(good), what="the good revision applied")
    broken = {**repo.files,
              "templates/base.j2": repo.files["templates/base.j2"]
              + "{{ (1 / 0) if device.name == 'ber-r02' else '' }}\n",
              "groups.yaml": repo.files["groups.yaml"].replace("ntp.eu.example.net", "ntp.broken.example.net")}
    bad = repo.commit(broken, "a template line that fails for one router")
    status = wait_for(lambda: (s := daemon.status())["state"] == "degraded" and s, what="degraded")
    assert status["revision"] == {"desired": bad, "last_good": good, "applied": good}
    assert [p["device"] for p in status["problems"]] == ["ber-r02"]
    daemon.post("/api/v1/sync")
    wait_for(lambda: daemon.status()["cycles"] >= 2, what="a cycle after the bad commit")
    for serial in ("24130001", "24130002"):  # the two routers the group change would have reached
        assert daemon.router(serial)["configuration"]["administration.time.ntp_server[1].server"] == \
            "ntp.eu.example.net"
