"""The daemon's API and logs never show a router value equal to one of the fleet's secrets."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.daemon.conftest import FleetRepo, ServeProcess, wait_for
from tests.live.conftest import ADMIN_PASSWORD

HOSTNAME = "administration.hostnames.hostname"


def test_a_guarded_key_set_to_a_secret_is_reported_as_stars(fleet_repo: Callable[..., FleetRepo],
                                                             serve: Callable[..., ServeProcess]) -> None:
    """A guarded key changed by hand to the admin password: the plan's note names the key, and `***` for the value."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="the fleet applied")
    repo.files["fleet.yaml"] = repo.files["fleet.yaml"].replace(
        "management:\n", f"management:\n  guard_keys: [services.https.active, {HOSTNAME}]\n")
    head = repo.commit(repo.files, "guard the hostname")
    wait_for(lambda: daemon.converged_at(head), what="the guard in force")
    daemon.poke("24130002", "configuration", {"set": {HOSTNAME: ADMIN_PASSWORD}})
    blocked = wait_for(lambda: [d for d in (daemon.get("/api/v1/plan").body or {"devices": []})["devices"]
                                if d["status"] == "blocked"], what="the router blocked by its guard")
    assert [(d["device"], d["notes"]) for d in blocked] == [(
        "ber-r02", [f"would cut reconciler's access to the router ({HOSTNAME} *** -> ber-r02): refused "
                    "(management.guard_keys)"])]
    assert daemon.get("/api/v1/devices/ber-r02").body["notes"] == blocked[0]["notes"]
    answers = [daemon.get(path).body for path in ("/api/v1/plan", "/api/v1/devices/ber-r02", "/api/v1/drift",
                                                  "/api/v1/status", "/api/v1/devices")]
    assert ADMIN_PASSWORD not in json.dumps(answers)
    assert daemon.router("24130002")["configuration"][HOSTNAME] == ADMIN_PASSWORD  # left alone: blocked
    assert not any(ADMIN_PASSWORD in line for line in daemon.lines + daemon.stdout)
