#!/usr/bin/env bash
# `make demo`: the main job on the embedded default: validate the example fleet, render a device,
# show the diff a pull request would get, plan against an observed-state snapshot, then the live
# loop against simulated routers, and finally the daemon (`reconciler serve --simulate`): in the
# foreground until Ctrl-C on a terminal; without one it shows the API and stops (DEMO_SECONDS=N
# keeps it up N seconds).
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

step "5. Live routers: simulate the example's 60 routers on loopback (factory state); the MRO-L200
   refuses one LTE key, as a router would refuse a bad template line" \
     "reconciler simulate --fleet $fleet --port 0 --profile perfect --reject 'MRO-L200=interfaces.wwan1.network_mode' &"
reconciler simulate --fleet "$fleet" --port 0 --profile perfect --reboot-seconds 1 \
    --reject 'MRO-L200=interfaces.wwan1.network_mode' > "$scratch/simulator.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null || true; wait $simulator 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 100); do grep -q "^simulating" "$scratch/simulator.log" && break; sleep 0.1; done
cat "$scratch/simulator.log"
url=$(sed -n 's#^simulating [0-9]* routers at \(http[^ ]*\)/d/<serial>.*#\1#p' "$scratch/simulator.log")
live=(--simulator "$url" --data-dir "$scratch/data" --credentials "$fleet/.demo/credentials.yaml"
      --secrets-key "$fleet/.demo/sealing.key")
# apply exits 3 while a staged rollout waits (a window, an approval, a pause): show it, and go on
applying() { local code=0 out; out=$(reconciler apply "$fleet" --yes "${live[@]}" "$@" 2>&1) || code=$?
    grep -v '^applying: ' <<<"$out" | tail -n 6; echo "(exit $code)"; }

step "6. Plan against the live routers" "reconciler plan $fleet --live --simulator $url …"
first 12 reconciler plan "$fleet" --live "${live[@]}"
echo "…"

step "7. Apply as a staged rollout (rollouts.yaml): a canary of one router per model and site first;
   the MRO-L200's failure pauses the rollout before any later wave is touched" \
     "reconciler apply $fleet --yes --simulator $url … && reconciler rollout status"
applying
reconciler rollout status --data-dir "$scratch/data"

step "8. The cause is fixed (the simulator accepts the key again): resume; the next waves go out,
   but Jebel Ali's routers change only in their night window (02:00-03:00 Dubai time)" \
     "reconciler rollout resume && reconciler apply $fleet --yes …"
curl -s -X POST "$url/_sim/accept" > /dev/null
reconciler rollout resume --data-dir "$scratch/data" | head -n 1
applying

step "9. An emergency override for the window (recorded in the audit log); then the fleet has converged" \
     "reconciler apply $fleet --yes --ignore-windows … && reconciler plan $fleet --live …"
applying --ignore-windows
reconciler plan "$fleet" --live "${live[@]}" | head -n 1

step "10. The audit log, and its hash chain" "reconciler audit --data-dir … && reconciler audit --verify …"
reconciler audit --data-dir "$scratch/data"
reconciler audit --verify --data-dir "$scratch/data"
kill $simulator 2>/dev/null || true; wait $simulator 2>/dev/null || true

step "11. Entitlements: licences on a date, credits and telephony from git history, SLA clocks" \
     "reconciler licences $fleet && reconciler costs $fleet --month … && reconciler sla …"
reconciler licences "$fleet"
first 8 reconciler costs "$fleet" --month "$(date -u +%Y-%m)"
first 4 reconciler sla --plan gold --priority P1 --opened 2026-12-24T17:30:00+01:00

listen=${DEMO_LISTEN:-127.0.0.1:8080}
step "12. The daemon: follow this repository's branch, converge simulated routers, serve the API" \
     "reconciler serve $fleet --simulate --config $fleet/.demo/reconciler.yaml --listen $listen"
reconciler serve "$fleet" --simulate --config "$fleet/.demo/reconciler.yaml" --listen "$listen" \
    --data-dir "$scratch/daemon" --log-format text > "$scratch/serve.out" 2> "$scratch/serve.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 200); do grep -q "^  try" "$scratch/serve.out" 2>/dev/null && break
    kill -0 $daemon 2>/dev/null || { cat "$scratch/serve.log"; exit 1; }; sleep 0.1; done
cat "$scratch/serve.out"
url=$(sed -n 's/^serving on //p' "$scratch/serve.out")
token=$(awk '$1 == "token" {print $2}' "$scratch/serve.out")
api() { curl -s -H "Authorization: Bearer $token" "$url$1"; }
pretty() { local out; out=$(api "$2" | python -m json.tool); head -n "$1" <<<"$out"; }
for _ in $(seq 600); do api /api/v1/status | grep -q '"applied": "[0-9a-f]' && break; sleep 0.2; done
echo; echo "\$ curl -H 'Authorization: Bearer …' $url/api/v1/status"
pretty 24 /api/v1/status
echo "\$ curl … $url/api/v1/devices/ber-plant-r01   (first lines)"
pretty 16 /api/v1/devices/ber-plant-r01
echo "\$ curl $url/metrics | grep ^reconciler_devices"
metrics=$(curl -s "$url/metrics"); grep '^reconciler_devices' <<<"$metrics"
if [ -t 0 ] && [ -z "${DEMO_SECONDS:-}" ]; then
    printf '\nThe daemon runs until Ctrl-C (its log: %s). Try the curl lines above, or drift a router:\n' \
        "$scratch/serve.log"
    routers=$(sed -n 's/^  routers   simulated at \(http[^ ]*\)\/d\/<serial>.*/\1/p' "$scratch/serve.out")
    echo "  curl -X POST -d '{\"set\": {\"administration.hostnames.hostname\": \"x\"}}' $routers/d/<serial>/_sim/configuration"
    trap 'kill $daemon 2>/dev/null' INT
    wait $daemon || true
else
    sleep "${DEMO_SECONDS:-0}"
    kill -TERM $daemon; wait $daemon
    printf '\n(no terminal: the daemon was stopped with SIGTERM, exit 0; on a terminal it runs until Ctrl-C)\n'
fi
printf '\nDone. Next: README.md walks through the repository format, every command, and running the daemon.\n'
