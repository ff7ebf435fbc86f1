#!/usr/bin/env bash
# `make demo`: the main job on the embedded default: validate the example fleet, render a device,
# show the diff a pull request would get, and plan against an observed-state snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
fleet=example-fleet-repo
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$bold" "$1" "$plain" "$2"; }
# first N lines of a command's output, without hiding its exit code (a pipe into head would)
first() { local n=$1; shift; local out; out=$("$@"); head -n "$n" <<<"$out"; }

step "1. Validate the example fleet (every problem at once, file:line:col)" "reconciler validate $fleet"
reconciler validate "$fleet"

step "2. Render one device's desired state (secrets as ***)" "reconciler render $fleet ber-plant-r01"
first 40 reconciler render "$fleet" ber-plant-r01
echo "… (the rest of the configuration cut for the demo)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
step "3. A pull request: a scratch clone changes a group field (the European syslog host)" \
     "reconciler diff <clone> --base HEAD"
cp -R "$fleet" "$scratch/fleet"
git -C "$scratch/fleet" init --quiet --initial-branch=main
git -C "$scratch/fleet" add --all
git -C "$scratch/fleet" -c user.name=demo -c user.email=demo@example.invalid commit --quiet -m "fleet as on main"
sed -i.bak 's/syslog_host: syslog.eu.nordlicht-logistics.example/syslog_host: syslog-new.eu.nordlicht-logistics.example/' \
    "$scratch/fleet/groups.yaml" && rm "$scratch/fleet/groups.yaml.bak"
git -C "$scratch/fleet" --no-pager diff --stat
first 40 reconciler diff "$scratch/fleet" --base HEAD
echo "…"
echo "As a pull-request comment (markdown, first lines):"
first 12 reconciler diff "$scratch/fleet" --base HEAD --format markdown

step "4. Plan against what the routers report (an observed-state snapshot)" \
     "reconciler plan $fleet --observed $fleet/.demo/observed.json"
first 30 reconciler plan "$fleet" --observed "$fleet/.demo/observed.json"
echo "…"

step "5. Live routers: simulate the example's 60 routers on loopback (factory state)" \
     "reconciler simulate --fleet $fleet --port 0 --profile perfect &"
reconciler simulate --fleet "$fleet" --port 0 --profile perfect --reboot-seconds 1 > "$scratch/simulator.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null; wait $simulator 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 100); do grep -q "^simulating" "$scratch/simulator.log" && break; sleep 0.1; done
cat "$scratch/simulator.log"
url=$(sed -n 's#^simulating [0-9]* routers at \(http[^ ]*\)/d/<serial>.*#\1#p' "$scratch/simulator.log")
live=(--simulator "$url" --data-dir "$scratch/data" --credentials "$fleet/.demo/credentials.yaml"
      --secrets-key "$fleet/.demo/sealing.key")

step "6. Plan against the live routers" "reconciler plan $fleet --live --simulator $url …"
first 12 reconciler plan "$fleet" --live "${live[@]}"
echo "…"

step "7. Apply: firmware, packets, configuration (secrets unsealed only now), verify" \
     "reconciler apply $fleet --yes --simulator $url …"
first 8 reconciler apply "$fleet" --yes "${live[@]}"
echo "…"

step "8. Plan again: the fleet has converged" "reconciler plan $fleet --live --simulator $url …"
reconciler plan "$fleet" --live "${live[@]}" | head -n 1

step "9. The audit log, and its hash chain" "reconciler audit --data-dir … && reconciler audit --verify …"
reconciler audit --data-dir "$scratch/data"
reconciler audit --verify --data-dir "$scratch/data"
printf '\nDone. Next: README.md walks through the repository format and every command.\n'
