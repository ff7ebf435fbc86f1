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
printf '\nDone. Next: README.md walks through the repository format and every command.\n'
