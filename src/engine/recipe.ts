/**
 * The engine image's recipe: what is added to the aibox base image (Debian packages and Podman's configuration).
 * Every text here is part of the image's tag, so a change builds a new image.
 */

/** Podman with what a rootful build needs inside gVisor (uidmap for its id tools). */
export const ENGINE_PACKAGES = ['podman', 'uidmap'];

/** Where the engine's first process serves Podman's API: a folder aiboxd mounts (gVisor creates the socket there). */
export const ENGINE_SOCKET_DIR = '/run/aibox-engine';
export const ENGINE_SOCKET = `${ENGINE_SOCKET_DIR}/podman.sock`;
/** The base image's tarball, mounted read-only: imported into the engine's store at start (see ENTRY). */
export const ENGINE_BASE_TAR = '/run/aibox-base.tar';
export const ENGINE_ENTRY = '/usr/local/lib/aibox/aibox-engine';
/**
 * aiboxd's go-ahead, in the daemon-owned API folder: created once the engine's ruleset is applied and verified. The
 * entrypoint waits for it before anything else, so no process of the engine sends a packet before its rules are up.
 */
export const ENGINE_NET_READY = `${ENGINE_SOCKET_DIR}/net-ready`;
/**
 * The agent sandbox's egress CA certificate (never a key), named by its OpenSSL subject hash (`<hash>.0`): a
 * daemon-owned folder mounted read-only here. The engine's mounts.conf (engineMountsConf) binds it into every RUN step.
 */
export const ENGINE_CA_DIR = '/run/aibox-ca';
/** Where Podman reads the mounts it adds to every container and RUN step (buildah's chroot isolation included). */
export const ENGINE_MOUNTS_CONF = 'etc/containers/mounts.conf';

/**
 * The engine's mounts.conf when its RUN steps trust the agent's egress CA: the certificate bound onto
 * `/etc/ssl/certs/<hash>.0`, a name no package owns, where OpenSSL (curl, Python's ssl) looks a CA up by its subject
 * hash and Go reads every file. Additive: the system bundle is left alone, so `update-ca-certificates` still rewrites
 * it; Buildah binds it for each step and never commits its content. Not in the image recipe: the hash is the sandbox's.
 */
export function engineMountsConf(caFile: string): string {
  if (!/^[0-9a-f]{8}\.0$/.test(caFile)) throw new Error(`not a subject-hash name: ${caFile}`);
  return `${ENGINE_CA_DIR}/${caFile}:/etc/ssl/certs/${caFile}\n`;
}

/** How long the entrypoint waits for the go-ahead (tenths of a second) before it exits (fail closed). */
const NET_READY_TENTHS = 1200;

export const ENGINE_FILES: Record<string, { mode: number; text: string }> = {
  // Overlay (kernel or fuse-overlayfs) hangs inside gVisor; vfs works (a full copy per layer).
  'etc/containers/storage.conf': {
    mode: 0o644,
    text: [
      '[storage]',
      'driver = "vfs"',
      'runroot = "/run/containers/storage"',
      'graphroot = "/var/lib/containers/storage"',
      '',
    ].join('\n'),
  },
  'etc/containers/containers.conf': {
    mode: 0o644,
    text: [
      '# aibox engine sandbox: rootful inside gVisor, no systemd.',
      "# RUN steps share the engine sandbox's own namespace, whose ruleset (aiboxd) opens the agent's proxy only.",
      '[containers]',
      'default_ulimits = []',
      'netns = "host"',
      'http_proxy = true',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      '',
    ].join('\n'),
  },
  // No registry: images come from the base image and from builds.
  'etc/containers/registries.conf': {
    mode: 0o644,
    text: 'unqualified-search-registries = []\n',
  },
  // Nothing is pulled (no registry is reachable): images are only read from its own store.
  'etc/containers/policy.json': {
    mode: 0o644,
    text: `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })}\n`,
  },
  // The first process: waits for aiboxd's go-ahead (its ruleset is up), imports the base image once (the engine's
  // store starts empty), then serves the API.
  // Buildah's chroot isolation is the only one that runs RUN steps in gVisor (the front forces it per build too).
  'usr/local/lib/aibox/aibox-engine': {
    mode: 0o755,
    text: [
      '#!/bin/sh',
      '# aibox engine: $1 the API socket, $2 the base tarball, $3 the base reference, $4 the sandbox uid.',
      'set -eu',
      `i=0; while [ ! -e ${ENGINE_NET_READY} ]; do`,
      `  i=$((i + 1)); if [ "$i" -gt ${NET_READY_TENTHS} ]; then echo "aibox engine: no go-ahead from aiboxd" >&2; exit 1; fi`,
      '  sleep 0.1',
      'done',
      // Buildah's chroot RUN binds /dev read-only, and gVisor (unlike Linux) refuses writes to a device node on a
      // read-only mount (`> /dev/null` fails): these, bound over themselves, are submounts that its recursive bind
      // carries along writable.
      'for d in null zero full; do mount --bind "/dev/$d" "/dev/$d"; done',
      'export BUILDAH_ISOLATION=chroot',
      'if ! podman image exists "$3"; then',
      '  podman import --change "USER $4" --change "WORKDIR /workspace" \\',
      '    --change "ENV HOME=/home/agent LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \\',
      '    "$2" "$3" >/dev/null',
      'fi',
      'podman tag "$3" localhost/aibox-base:latest',
      'exec podman system service --time=0 "unix://$1"',
      '',
    ].join('\n'),
  },
};
