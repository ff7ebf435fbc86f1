"""A generator of large fleet repositories with the example's templates (20,000 devices by default).

It copies the example fleet's templates, resources and secrets, and writes its own fleet.yaml,
sites (200 devices each, in the example's three time zones), groups shaped like the example's
(regions by site, uplink by model and tag, telephony by tag, a lab by name) and devices with
per-device fields. Deterministic for a given size and seed.

    python -m bench.fleetgen --devices 20000 --out bench/fleet-20000
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example-fleet-repo"
PER_SITE = 200
REGIONS = (  # name, share of sites, time zone, country, (lat, lon) around which sites scatter
    ("europe", 0.6, "Europe/Berlin", "DE", (51.0, 10.0)),
    ("americas", 0.25, "America/New_York", "US", (40.7, -74.0)),
    ("middle-east", 0.15, "Asia/Dubai", "AE", (25.0, 55.1)),
)
MODELS = (("MRX5 LTE", 0.45), ("MRX3 LTE", 0.2), ("MRX6 DSL", 0.15), ("SCR LTE", 0.15), ("MRO-L200", 0.05))


def generate(out: Path, devices: int = 20_000, seed: int = 7) -> Path:
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for part in ("templates", "resources", "secrets"):
        shutil.copytree(EXAMPLE / part, out / part)
    sites = _sites(max(1, -(-devices // PER_SITE)), rng)
    (out / "fleet.yaml").write_text(_fleet_yaml(devices), encoding="utf-8")
    (out / "sites.yaml").write_text(_sites_yaml(sites), encoding="utf-8")
    (out / "groups.yaml").write_text(_groups_yaml(sites), encoding="utf-8")
    (out / "devices").mkdir()
    for index, (name, region, _) in enumerate(sites):
        first = index * PER_SITE
        count = min(PER_SITE, devices - first)
        (out / "devices" / f"{name}.yaml").write_text(_devices_yaml(name, region, first, count, rng),
                                                      encoding="utf-8")
    return out


def _sites(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    sites = []
    for index in range(count):
        region = _pick([(r[0], r[1]) for r in REGIONS], index / count)
        sites.append((f"site-{index:04d}", region, _site_entry(index, region, rng)))
    return sites


def _pick(choices: list[tuple[str, float]], position: float) -> str:
    total = 0.0
    for name, share in choices:
        total += share
        if position < total:
            return name
    return choices[-1][0]


def _site_entry(index: int, region: str, rng: random.Random) -> str:
    _, _, zone, country, (lat, lon) = next(r for r in REGIONS if r[0] == region)
    return (f"  - {{name: site-{index:04d}, timezone: {zone}, lat: {lat + rng.uniform(-3, 3):.4f}, "
            f"lon: {lon + rng.uniform(-3, 3):.4f}, country: {country}}}\n")


def _fleet_yaml(devices: int) -> str:
    variant = "server" if devices <= 1500 else "datacenter"
    approval = ""
    if devices > 5000:
        approval = (f"approval:\n  reference: BENCH-{devices}\n  approved_by: benchmark\n"
                    f"  approved_on: 2026-01-15\n  max_devices: {max(devices, 5001)}\n")
    example = (EXAMPLE / "fleet.yaml").read_text(encoding="utf-8")
    defaults = example[example.index("defaults:"):example.index("volatile_keys:")]
    return (f"format: reconciler/v1\nname: bench-{devices}\nvariant: {variant}\ntimezone: Europe/Berlin\n"
            f"{approval}{defaults}sync: {{interval: 5m, self_heal: true}}\n")


def _sites_yaml(sites: list[tuple[str, str, str]]) -> str:
    return "sites:\n" + "".join(entry for _, _, entry in sites)


def _groups_yaml(sites: list[tuple[str, str, str]]) -> str:
    example = (EXAMPLE / "groups.yaml").read_text(encoding="utf-8")
    by_region = {region: [name for name, r, _ in sites if r == region] for region, *_ in REGIONS}
    replacements = {
        "site: [berlin-plant, hamburg-port, leipzig-hub, munich-lab]": by_region["europe"],
        "site: [newark-dc]": by_region["americas"],
        "site: [jebel-ali-hub]": by_region["middle-east"],
        "site: [hamburg-port]": by_region["europe"][:1],
        "site: [newark-dc, jebel-ali-hub]": by_region["americas"] + by_region["middle-east"],
    }
    for old, names in replacements.items():
        example = example.replace(old, "site: [" + ", ".join(names or ["none"]) + "]")
    lab = "members: [" + ", ".join(f"dev-{i:05d}" for i in range(7)) + "]"
    start = example.index("members: [muc-lab-r01")
    end = example.index("]", start) + 1
    return example[:start] + lab + example[end:]


def _devices_yaml(site: str, region: str, first: int, count: int, rng: random.Random) -> str:
    lines = ["devices:\n"]
    for number in range(first, first + count):
        lines.append(_device(number, site, region, rng))
    return "".join(lines)


def _device(number: int, site: str, region: str, rng: random.Random) -> str:
    model = _pick(list(MODELS), rng.random())
    if model == "MRO-L200" and region != "europe":  # as in the example: the legacy routers are in Europe
        model = "MRX5 LTE"
    telephony = model in ("MRX5 LTE", "MRX6 DSL") and rng.random() < 0.03
    tags = ["production", "telephony" if telephony else ("cellular" if "DSL" not in model else "wired")]
    fields = {
        "lan_network": f"10.{64 + number // 256 % 128}.{number % 256}.0/24" if number < 32768
        else f"172.{16 + number // 65536}.{number // 256 % 256}.{number % 256 // 64 * 64}/26",
        "location": f"Hall {rng.randint(1, 9)}, column {chr(65 + rng.randint(0, 7))}{rng.randint(1, 40):02d}",
        "asset_tag": f"NL-{100000 + number:06d}",
        "lan_vlan": rng.choice([10, 20, 30]),
    }
    if telephony:
        fields["qos_uplink_kbit"] = rng.choice([10000, 40000, 50000])
    if model == "MRX6 DSL":
        fields["dsl_username"] = f"nl-{number:05d}@business.vdsl.example"
    rendered_fields = "".join(f"      {key}: {_yaml_value(value)}\n" for key, value in fields.items())
    return (f"  - name: dev-{number:05d}\n    serial: \"{30000000 + number}\"\n    model: {model}\n"
            f"    address: https://10.{number // 65536 + 100}.{number // 256 % 256}.{number % 256}\n"
            f"    site: {site}\n    tags: [{', '.join(tags)}]\n    fields:\n{rendered_fields}")


def _yaml_value(value: object) -> str:
    return str(value) if isinstance(value, int) else f'"{value}"'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    generate(args.out, args.devices, args.seed)
    print(f"wrote a fleet of {args.devices:,} devices to {args.out}")


if __name__ == "__main__":
    main()
