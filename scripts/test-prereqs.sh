#!/usr/bin/env bash
# Runs before `npm test` (npm's pretest): installs what the tests need, idempotently, and prepares the shared
# base image once, so integration suites start sandboxes in seconds. Without root it only builds and says that the
# integration suites will skip (in CI, where CI=true, they fail instead of skipping).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "aibox pretest: not root: integration suites (podman, runsc, nftables) will be skipped" >&2
  npm run --silent build
  exit 0
fi

bash scripts/setup-host.sh
# The dashboard's browser tests drive Debian's Chromium (no browser download).
if ! command -v chromium >/dev/null; then
  echo "aibox pretest: installing chromium for the dashboard's browser tests" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build

# Build the base image once with a throwaway daemon (the image lives in the aibox user's Podman storage, shared
# by every daemon on this host). A no-op when it is already built.
work=$(mktemp -d /tmp/aibox-pretest-XXXXXX)
chmod 0711 "$work"
# Its SSH gateway takes a free port: a real aiboxd may already hold 2222 on this host.
printf 'sshGateway:\n  port: 0\n' >"$work/aiboxd.yaml"
node dist/bin/aiboxd.js --socket "$work/d.sock" --state-dir "$work/state" --config "$work/aiboxd.yaml" >"$work/aiboxd.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  [ -S "$work/d.sock" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/aiboxd.log" >&2; exit 1; }
  sleep 0.2
done
AIBOX_SOCKET="$work/d.sock" node dist/bin/aibox.js setup
