#!/usr/bin/env bash
# Builds native/peercred/build/peercred.node with the host's C compiler against the running Node's headers
# (Node-API only: no node-gyp, no Python, no download). Part of `npm run build`; fails loudly, since aiboxd refuses
# to start without it (per-caller authorisation cannot be done from JavaScript).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/peercred.c"
out="$here/build/peercred.node"

node_bin="$(command -v node)"
prefix="$(dirname "$(dirname "$(readlink -f "$node_bin")")")"
headers=""
for dir in "${AIBOX_NODE_HEADERS:-}" "$prefix/include/node" /usr/include/node /usr/local/include/node; do
  if [ -n "$dir" ] && [ -f "$dir/node_api.h" ]; then headers="$dir"; break; fi
done
if [ -z "$headers" ]; then
  echo "peercred: node_api.h not found (looked in $prefix/include/node, /usr/include/node, /usr/local/include/node);" \
    "install Node's headers or set AIBOX_NODE_HEADERS" >&2
  exit 1
fi

# Up to date: nothing to do (Node-API is ABI-stable across Node versions).
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ]; then exit 0; fi
mkdir -p "$here/build"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared \
  -DNODE_GYP_MODULE_NAME=peercred -DNAPI_VERSION=8 \
  -I"$headers" -o "$out.tmp" "$src"
mv "$out.tmp" "$out"
