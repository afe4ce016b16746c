/**
 * The `update` hook every mirror runs (core.hooksPath). receive-pack calls it once per pushed ref, with the new
 * objects still in quarantine; it asks the gateway (over a unix socket only the daemon can reach) what to do, prints
 * the gateway's lines to stderr (the pusher sees them as `remote: aibox: …`) and exits non-zero to refuse the ref.
 * Plain Node with built-ins only, so it runs whatever the daemon's build layout is.
 */
export const UPDATE_HOOK_JS = `// Written by aiboxd; changes are overwritten.
import http from 'node:http';
const [ref, oldSha, newSha] = process.argv.slice(2);
const token = process.env.AIBOX_GATE_TOKEN;
const socketPath = process.env.AIBOX_GATE_SOCKET;
const say = (line) => process.stderr.write('aibox: ' + line + '\\n');
if (!token || !socketPath) {
  say('this mirror accepts pushes only through the aibox git gateway; push refused.');
  process.exit(1);
}
const body = JSON.stringify({
  token, ref, oldSha, newSha,
  objectDirectory: process.env.GIT_OBJECT_DIRECTORY ?? null,
  alternates: process.env.GIT_ALTERNATE_OBJECT_DIRECTORIES ?? null,
  quarantine: process.env.GIT_QUARANTINE_PATH ?? null,
});
const req = http.request(
  { socketPath, path: '/update', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
  (res) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (data += c));
    res.on('end', () => {
      let verdict;
      try { verdict = JSON.parse(data); } catch { verdict = { accept: false, message: ['gateway answered ' + res.statusCode + '; push refused.'] }; }
      for (const line of verdict.message ?? []) say(line);
      process.exit(verdict.accept === true ? 0 : 1);
    });
  },
);
req.on('error', (e) => { say('gateway unreachable (' + e.code + '); push refused.'); process.exit(1); });
req.end(body);
`;

/** The executable `update` hook: a shell stub that runs the script above with the daemon's own node. */
export function updateHookShim(nodeBinary: string, scriptPath: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\nexec ${q(nodeBinary)} ${q(scriptPath)} "$@"\n`;
}
