#!/usr/bin/env bash
# aibox quick start: installs everything, starts aiboxd, starts a policy-enforced gVisor sandbox on the current
# directory and shows what it may and may not do. Run as root on Debian 12: `sudo scripts/quickstart.sh`.
set -euo pipefail
PROJECT_DIR="${INIT_CWD:-$PWD}"
cd "$(dirname "$0")/.."
AIBOX_HOME="$PWD"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { echo "run as root: sudo $0" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null ||
  { echo "aibox needs Node.js 20 or newer (node --version)" >&2; exit 1; }

step "Installing host prerequisites (Debian packages, gVisor runsc, the aibox user)"
bash scripts/setup-host.sh
step "Installing npm dependencies and building"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
# `aibox` and `aiboxd` on PATH, pointing at this checkout (what the last lines below tell the user to type).
for bin in aibox aiboxd; do
  printf '#!/bin/sh\nexec node %s/dist/bin/%s.js "$@"\n' "$AIBOX_HOME" "$bin" >/usr/local/bin/$bin
  chmod 0755 /usr/local/bin/$bin
done
# Tab completion for `aibox` in new bash shells.
mkdir -p /etc/bash_completion.d
/usr/local/bin/aibox completion bash >/etc/bash_completion.d/aibox

aibox() { /usr/local/bin/aibox "$@"; }
export AIBOX_SOCKET=/run/aibox/aiboxd.sock
if ! aibox status --json >/dev/null 2>&1; then
  step "Starting aiboxd (log: /var/log/aibox/aiboxd.log)"
  mkdir -p /var/log/aibox
  nohup node "$AIBOX_HOME/dist/bin/aiboxd.js" >>/var/log/aibox/aiboxd.log 2>&1 &
  daemon=$!
  for _ in $(seq 1 300); do
    [ -S "$AIBOX_SOCKET" ] && aibox status --json >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || { echo "aiboxd stopped:" >&2; tail -n 3 /var/log/aibox/aiboxd.log >&2; exit 1; }
    sleep 0.2
  done
fi

step "Building the sandbox base image (cached after the first run)"
aibox setup

# aibox never lets an agent write files that belong to root on the host (a set-uid file written inside would be a
# set-uid root program outside), so it refuses root-owned folders. When this one is root's (a checkout made as root),
# the demo runs on a small git project owned by the unprivileged user `nobody` instead.
if [ "$(stat -c %u "$PROJECT_DIR")" = 0 ]; then
  demo=/srv/aibox-quickstart-demo
  step "$PROJECT_DIR belongs to root: aibox refuses root-owned projects; using the demo project $demo (owner nobody)"
  mkdir -p "$demo"
  chown nobody:nogroup "$demo"
  [ -d "$demo/.git" ] || runuser -u nobody -- sh -c "cd '$demo' && git init -q && echo '# demo' > README.md"
  PROJECT_DIR=$demo
fi
name=$(basename "$PROJECT_DIR" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9_.-]+/-/g; s/^[^a-z0-9]+//' | cut -c1-40)
name=${name:-project}-quickstart
aibox rm "$name" >/dev/null 2>&1 || true
step "Starting sandbox '$name' on $PROJECT_DIR"
aibox start "$PROJECT_DIR" --name "$name"

step "Inside the sandbox: what is allowed and what is refused"
aibox exec "$name" -- bash -c '
  check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then echo "  allowed  $what"; else echo "  refused  $what"; fi; }
  echo "kernel:   $(dmesg | head -1 | cut -c16-)"
  echo "user:     $(id)"
  echo "caps:     $(grep CapEff /proc/self/status | cut -f2)  seccomp: $(grep Seccomp: /proc/self/status | cut -f2)"
  check "read the project (/workspace)"        ls /workspace
  check "write the project (/workspace)"       touch /workspace/.aibox-quickstart
  check "write the root filesystem (/usr)"     touch /usr/aibox-test
  check "plant a git hook (.git/hooks)"        sh -c "test -d /workspace/.git/hooks && echo x > /workspace/.git/hooks/post-checkout"
  check "create a user namespace (unshare -U)" unshare -U true
  check "become root (su)"                     su -c true root
  check "fetch https://deb.debian.org/ through the policy proxy (org allowlist)" curl -fsS -o /dev/null --max-time 15 https://deb.debian.org/debian/
  check "fetch https://example.com/ (not on any allowlist: 403 from the proxy)"   curl -fsS -o /dev/null --max-time 15 https://example.com/
  check "bypass the proxy: direct TCP to 1.1.1.1:443"                     env -u https_proxy -u HTTPS_PROXY timeout 5 bash -c "exec 3<>/dev/tcp/1.1.1.1/443"
  check "resolve an unlisted name (example.com)"                          sh -c "dig +short +time=3 +tries=1 example.com | grep -q ."
  rm -f /workspace/.aibox-quickstart
'
step "Status"
aibox status "$name"
cat <<MSG

Next:  aibox exec $name -it -- bash     (a shell in the sandbox)
       aibox doctor                       (every prerequisite and layer)
       aibox rm $name                     (remove it; nothing is left behind)
       npm test                           (the test suite)
MSG
