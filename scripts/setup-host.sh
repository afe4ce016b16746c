#!/usr/bin/env bash
# Installs what aiboxd needs on a Debian 12 host, idempotently (safe to run again; fast when nothing is missing):
#   - Debian packages (podman and its rootless helpers, runc, nftables, squid, DNS tools, debootstrap, git, ssh …)
#   - gVisor's runsc from Debian trixie into /opt/aibox/runtime (bookworm's runsc breaks `ls` in the sandbox:
#     it rejects coreutils' statx flags). Fetched with a private apt state: the host's sources stay bookworm.
#   - the unprivileged `aibox` user (with subordinate uid/gid ranges) that runs rootless Podman for the sandboxes,
#     with a primary group of its own;
#   - the `aibox-users` group for the people who use the CLI: the daemon's socket is root:aibox-users 0660. The
#     runtime user is never in it (a sandbox that escaped into Podman must not reach the root daemon). Hosts set up
#     before this had CLI users in the `aibox` group (also the runtime user's primary group): they are moved over.
# Usage: scripts/setup-host.sh            (needs root)
set -euo pipefail

PACKAGES=(
  podman runc uidmap slirp4netns fuse-overlayfs containernetworking-plugins
  nftables iproute2 squid-openssl dnsmasq-base bind9-dnsutils
  debootstrap ca-certificates curl git openssh-client tmux python3 util-linux acl
  netcat-openbsd iputils-ping procps gcc libc6-dev python3-seccomp openssh-sftp-server gpg
)
RUNSC_DIR=/opt/aibox/runtime
RUNSC_VERSION_WANTED=20240729
AIBOX_USER=aibox
SOCKET_GROUP=aibox-users
SUBID_START=200000
SUBID_COUNT=65536

say() { printf '\033[1maibox setup:\033[0m %s\n' "$*" >&2; }
die() { printf 'aibox setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0): it installs Debian packages and creates the aibox user"
command -v apt-get >/dev/null || die "this script supports Debian 12 (bookworm); apt-get was not found"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Squid and dnsmasq are started per sandbox by aiboxd, never as system services.
for svc in squid dnsmasq; do
  if [ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" status >/dev/null 2>&1; then "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; fi
done

# (Capture first: `runsc --version | grep -q` fails under pipefail when grep exits early.)
runsc_version() { "$RUNSC_DIR/runsc" --version 2>/dev/null || true; }
if [[ "$(runsc_version)" != *"$RUNSC_VERSION_WANTED"* ]]; then
  say "fetching gVisor runsc ($RUNSC_VERSION_WANTED) from Debian trixie"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/etc/sources.list"
  opts=(-o "Dir::Etc::SourceList=$work/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" download runsc >/dev/null)
  dpkg -x "$work"/runsc_*.deb "$work/x"
  install -d -m 0755 "$RUNSC_DIR"
  install -m 0755 "$work/x/usr/bin/runsc" "$RUNSC_DIR/runsc"
  [[ "$(runsc_version)" == *"$RUNSC_VERSION_WANTED"* ]] || die "unexpected runsc version: $(runsc_version)"
fi

if ! id "$AIBOX_USER" >/dev/null 2>&1; then
  say "creating the unprivileged user '$AIBOX_USER' that runs rootless Podman"
  useradd --system --create-home --home-dir /var/lib/aibox-user --shell /usr/sbin/nologin "$AIBOX_USER"
fi
grep -q "^$AIBOX_USER:" /etc/subuid || usermod --add-subuids "$SUBID_START-$((SUBID_START + SUBID_COUNT - 1))" "$AIBOX_USER"
grep -q "^$AIBOX_USER:" /etc/subgid || usermod --add-subgids "$SUBID_START-$((SUBID_START + SUBID_COUNT - 1))" "$AIBOX_USER"

# The runtime user's own primary group, shared with nobody.
getent group "$AIBOX_USER" >/dev/null || groupadd --system "$AIBOX_USER"
if [ "$(id -gn "$AIBOX_USER")" != "$AIBOX_USER" ]; then
  say "giving '$AIBOX_USER' its own primary group"
  usermod -g "$AIBOX_USER" "$AIBOX_USER"
fi
# CLI users: the socket group. Migrate members of the old socket group (`aibox`) and keep the runtime user out.
getent group "$SOCKET_GROUP" >/dev/null || groupadd --system "$SOCKET_GROUP"
old_members=$(getent group "$AIBOX_USER" | cut -d: -f4 | tr ',' ' ')
for member in $old_members; do
  [ "$member" = "$AIBOX_USER" ] && continue
  say "moving '$member' from the '$AIBOX_USER' group to '$SOCKET_GROUP' (the socket group)"
  gpasswd -a "$member" "$SOCKET_GROUP" >/dev/null
  gpasswd -d "$member" "$AIBOX_USER" >/dev/null
done
if id -nG "$AIBOX_USER" | tr ' ' '\n' | grep -qx "$SOCKET_GROUP"; then
  say "removing the runtime user '$AIBOX_USER' from '$SOCKET_GROUP'"
  gpasswd -d "$AIBOX_USER" "$SOCKET_GROUP" >/dev/null
fi
# A config written for the old layout names the runtime user's group as the socket group: point it at aibox-users.
for conf in /etc/aibox/aiboxd.yaml; do
  if [ -f "$conf" ] && grep -Eq "^socketGroup:[[:space:]]*$AIBOX_USER[[:space:]]*$" "$conf"; then
    say "$conf: socketGroup $AIBOX_USER -> $SOCKET_GROUP"
    sed -i -E "s/^socketGroup:[[:space:]]*$AIBOX_USER[[:space:]]*$/socketGroup: $SOCKET_GROUP/" "$conf"
  fi
done
# A running daemon's socket keeps its old group until the daemon restarts; fix it now.
for sock in /run/aibox/aiboxd.sock; do
  if [ -S "$sock" ]; then chown root:"$SOCKET_GROUP" "$sock" && chmod 0660 "$sock"; fi
done

# slirp4netns (rootless networking) opens /dev/net/tun as the aibox user; Debian's usual mode is 0666.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != "666" ]; then chmod 0666 /dev/net/tun; fi

say "host ready: podman $(podman --version | awk '{print $3}'), runsc $(runsc_version | awk 'NR==1 {print $3}'), user $AIBOX_USER, socket group $SOCKET_GROUP (add CLI users: usermod -aG $SOCKET_GROUP USER)"
