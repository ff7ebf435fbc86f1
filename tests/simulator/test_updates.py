"""Update packets over real sockets: analyze, perform (apply/store), activate, and what fails how."""

from __future__ import annotations

import hashlib

from reconciler.simulator.profiles import Rejection, behaviour
from reconciler.simulator.routers import Factory
from tests.simulator.support import API, ASCII, MRO, MRX5, Client, ManualClock, packet, simulate, tar

CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBsim\n-----END CERTIFICATE-----\n"
REJECTING = behaviour("perfect", rejections=(Rejection("MRO-L200", "interfaces.wwan1.band_*"),))

MERGE = """\
# a comment, then lists replaced, extended and addressed by [last]
administration.hostnames.hostname=ber-r01
administration.time.ntp_server.delete=all
administration.time.ntp_server.add
administration.time.ntp_server[last].server=ntp1.example.net
administration.time.ntp_server.add
administration.time.ntp_server[last].server=ntp2.example.net
interfaces.net1.ip_address.add
interfaces.net1.ip_address[last].ip_address=10.0.0.1
administration.hostnames.device_note=-----BEGIN device_note-----
line one
-----END device_note-----
"""


def test_an_applied_configuration_merges_into_the_running_one() -> None:
    """Keys set, `.delete=all` empties a list, `.add` + `[last]` append; untouched keys stay."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        assert await client.configure(MRX5, token, "administration.time.ntp_server[1].server=old\n"
                                                   "administration.time.ntp_server[2].server=older\n") == [
            {"entry": 1, "result": "done", "error": None}]
        await client.configure(MRX5, token, MERGE)
        running = await client.running(MRX5, token)
        assert "administration.hostnames.hostname=ber-r01\n" in running
        assert "administration.time.ntp_server[1].server=ntp1.example.net\n" in running
        assert "administration.time.ntp_server[2].server=ntp2.example.net\n" in running
        assert "old" not in running
        assert "interfaces.net1.ip_address[1].ip_address=192.168.1.1\n" in running
        assert "interfaces.net1.ip_address[2].ip_address=10.0.0.1\n" in running
        assert "device_note=-----BEGIN device_note-----\nline one\n-----END device_note-----\n" in running

    simulate(scenario)


def test_the_running_configuration_is_canonical_text_in_natural_key_order() -> None:
    """Keys carry numeric indices only and sort with indices as numbers (rule[2] before rule[10])."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "netfilter.rule.add=10\nnetfilter.rule[last].port=10\n"
                                            "netfilter.rule[2].port=2\n")
        lines = (await client.running(MRX5, token)).splitlines()
        assert lines.index("netfilter.rule[2].port=2") < lines.index("netfilter.rule[10].port=10")
        assert lines == sorted(lines, key=lambda line: line.replace("[10]", "[99]"))

    simulate(scenario)


def test_a_stored_profile_replaces_the_running_configuration_when_activated() -> None:
    """`store` keeps the statements as a whole profile; activate_profile makes exactly that the running one."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        text = ("administration.users[1].username=admin\nadministration.users[1].password=admin\n"
                "administration.hostnames.hostname=from-profile\n")
        assert (await client.configure(MRX5, token, text, "store", "p2"))[0]["result"] == "done"
        assert "hostname=icom-" in await client.running(MRX5, token)
        assert (await client.state(MRX5))["profiles"] == ["p2"]
        status, body = await client.api("POST", MRX5, "operation", token, json={
            "method": "manual_action", "params": {"action": "activate_profile", "profile": "p2"}})
        assert (status, body) == (201, {})
        running = await client.running(MRX5, token)
        assert "administration.hostnames.hostname=from-profile\n" in running
        assert "services.https.port" not in running
        assert "interfaces.net1" not in running

    simulate(scenario)


def test_activating_a_profile_that_was_never_stored_is_refused() -> None:
    """activate_profile of an unknown profile answers 400 and changes nothing."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        status, body = await client.api("POST", MRX5, "operation", token, json={
            "method": "manual_action", "params": {"action": "activate_profile", "profile": "nope"}})
        assert status == 400
        assert "nope" in body["error"]

    simulate(scenario)


def test_analyze_numbers_the_entries_and_marks_a_bad_md5_invalid() -> None:
    """Entries are numbered from 1 in MANIFEST order; a wrong MD5SUM makes its entry invalid, and perform fails it."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        bad = packet([("good.txt", ASCII, b"a.b=1\n"), ("bad.txt", ASCII, b"a.c=2\n")],
                     md5=lambda data: "0" * 32 if data == b"a.c=2\n" else hashlib.md5(data).hexdigest())
        status, analysis = await client.analyze(MRX5, token, bad)
        assert status == 201
        assert [(e["entry"], e["valid"], e["filename"], e["type"]) for e in analysis["content"]] == [
            (1, True, "good.txt", ASCII), (2, False, "bad.txt", ASCII)]
        assert "MD5SUM" in analysis["content"][1]["error"]
        results = await client.install(MRX5, token, bad)
        assert [(r["entry"], r["result"]) for r in results] == [(1, "done"), (2, "failed")]
        assert "a.c" not in await client.running(MRX5, token)

    simulate(scenario)


def test_a_packet_without_manifest_first_or_not_a_tar_is_refused_with_400() -> None:
    """MANIFEST must be the first member of an uncompressed tar; otherwise analyze answers 400."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        for upload in (packet([("c.txt", ASCII, b"a=1\n")], manifest_first=False), b"no tar at all",
                       tar([("MANIFEST", b"FILENAME = c.txt\n")])):
            status, body = await client.analyze(MRX5, token, upload)
            assert status == 400
            assert body["error"]

    simulate(scenario)


def test_a_missing_file_makes_its_entry_invalid() -> None:
    """A MANIFEST section naming a file the tar does not hold is invalid with an error."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        manifest = b"FILENAME=gone.txt\nFILETYPE=ASCII Configuration\nMD5SUM=" + b"0" * 32 + b"\n"
        status, analysis = await client.analyze(MRX5, token, tar([("MANIFEST", manifest)]))
        assert status == 201
        assert analysis["content"][0]["valid"] is False
        assert "missing" in analysis["content"][0]["error"]

    simulate(scenario)


def test_a_rejected_key_fails_its_entry_leaves_the_configuration_and_later_entries_still_run() -> None:
    """The model's refusal is the contract's error text; the entry is atomic; the next entry is done."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRO)
        before = await client.running(MRO, token)
        results = await client.install(MRO, token, packet([
            ("first.txt", ASCII, b"administration.hostnames.hostname=changed\ninterfaces.wwan1.band_lock=3\n"),
            ("second.txt", ASCII, b"administration.hostnames.location=hall 2\n")]))
        assert results[0] == {"entry": 1, "result": "failed",
                              "error": "key not supported by MRO-L200: interfaces.wwan1.band_lock"}
        assert results[1] == {"entry": 2, "result": "done", "error": None}
        after = await client.running(MRO, token)
        assert after.replace("administration.hostnames.location=hall 2\n", "") == before
        mrx5 = await client.login(MRX5)
        assert (await client.configure(MRX5, mrx5, "interfaces.wwan1.band_lock=3\n"))[0]["result"] == "done"

    simulate(scenario, behaviour=REJECTING)


def test_a_syntax_error_fails_its_entry_with_the_line() -> None:
    """A statement the router cannot read fails the entry with its line number; nothing of it is applied."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        results = await client.configure(MRX5, token, "a.b=1\n\nthis is no statement\n")
        assert results[0]["result"] == "failed"
        assert results[0]["error"].startswith("line 3:")
        assert "a.b=1" not in await client.running(MRX5, token)

    simulate(scenario)


def test_certificates_scripts_and_containers_are_stored() -> None:
    """The three file kinds are kept on the router and listed in its inspection state."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        results = await client.install(MRX5, token, packet([
            ("vpn-ca.pem", "Certificate", CA_PEM), ("cleanup.lua", "Lua Script", b"print('x')\n"),
            ("monitor.tar", "Container", b"\0" * 1024)]), action="store", profile="p1")
        assert [r["result"] for r in results] == ["done"] * 3
        state = await client.state(MRX5)
        assert (state["certificates"], state["scripts"], state["containers"]) == (
            ["vpn-ca.pem"], ["cleanup.lua"], ["monitor.tar"])

    simulate(scenario)


def test_an_identifier_is_performed_once_and_expires_after_ten_minutes() -> None:
    """perform consumes an identifier; one left unperformed for ten minutes is refused too."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        one = packet([("c.txt", ASCII, b"a.b=1\n")])
        for after_first in (True, False):
            _, analysis = await client.analyze(MRX5, token, one)
            body = {"identifier": analysis["identifier"], "profile": "", "entries": [{"entry": 1, "action": "apply"}]}
            if after_first:
                assert (await client.api("POST", MRX5, "upload/perform", token, json=body))[0] == 201
            else:
                clock.advance(601)
                token = await client.login(MRX5)
            status, answer = await client.api("POST", MRX5, "upload/perform", token, json=body)
            assert status == 400
            assert "identifier" in answer["error"]

    simulate(scenario, clock=clock)


def test_passwords_never_appear_in_plain_text_in_any_answer() -> None:
    """A password set by packet and by hand is stored hashed ($6$), shown hashed everywhere, and logs in."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5, "factory-secret")
        await client.configure(MRX5, token, "administration.users[1].password=N3w-Pa55word\n"
                                            "interfaces.dsl1.ppp_password=dsl-Pa55word\n")
        await client.configure(MRX5, token, "administration.users[1].password=N3w-Pa55word\n", "store", "p")
        await client.sim(MRX5, "configuration", {"set": {"ipsec.connection[1].psk": "psk-Pa55word"}})
        token = await client.login(MRX5, "N3w-Pa55word")
        answers = [await client.running(MRX5, token), str(await client.state(MRX5)),
                   str(await client.api("GET", MRX5, "configuration?profile=p", token)),
                   str(await client.api("GET", MRX5, "status/device_info", token)),
                   str(await client.get_root("/_sim/routers"))]
        for text in answers:
            for secret in ("factory-secret", "N3w-Pa55word", "dsl-Pa55word", "psk-Pa55word"):
                assert secret not in text
        assert "administration.users[1].password=$6$" in answers[0]
        assert "ipsec.connection[1].psk=$6$" in answers[0]
        assert (await client.request("POST", MRX5, f"{API}/auth/login",
                                     json={"username": "admin", "password": "factory-secret"}))[0] == 401

    simulate(scenario, factory=Factory(password="factory-secret"))
