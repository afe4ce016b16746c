/**
 * The launcher an agent's MCP client starts inside the sandbox (/opt/aibox/packs/.aibox/bin/NAME): it connects to
 * the sandbox's MCP gateway on the host, names the server and the sandbox's gateway key, then copies stdio both
 * ways. It starts nothing itself: aiboxd starts the server inside the sandbox and every message passes the gateway.
 * Python 3 because the base image has it (the server's own runtime may not be node).
 */
export function relayLauncher(opts: { host: string; port: number; key: string; server: string }): string {
  const hello = JSON.stringify({ key: opts.key, server: opts.server });
  return `#!/usr/bin/python3
# MCP server ${opts.server} through aiboxd's MCP gateway (policy per tools/call). Written by aiboxd.
import os, socket, sys, threading
try:
    s = socket.create_connection((${JSON.stringify(opts.host)}, ${opts.port}), timeout=10)
except OSError as e:
    sys.stderr.write("aibox: the MCP gateway is unreachable: %s\\n" % e)
    sys.exit(1)
s.settimeout(None)
s.sendall(${JSON.stringify(hello)}.encode() + b"\\n")
def up():
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            s.sendall(b)
    finally:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
`;
}

/** The launcher when the sandbox has no gateway (no network layer): MCP servers are refused, not run unchecked. */
export function refusingLauncher(server: string): string {
  return `#!/bin/sh
# MCP server ${server}: refused, this sandbox has no MCP gateway (aiboxd runs without its network layer).
echo "aibox: MCP server ${server} runs only through aiboxd's MCP gateway, which this sandbox does not have" >&2
exit 1
`;
}
