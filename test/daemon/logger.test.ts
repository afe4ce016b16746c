import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SecretRedactor } from '../../src/credentials/index.js';
import { daemonLogger } from '../../src/daemon/server.js';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('the daemon logger', () => {
  it('masks every secret value the credentials redactor knows, wherever it lands in a line', () => {
    const redactor = new SecretRedactor();
    const { lines, stream } = sink();
    const log = daemonLogger('info', redactor, stream);
    const secret = 'sk-ant-api03-LOGGED-NEVER-1234567890';
    redactor.add(secret);
    log.info({ req: { url: `/v1/sandboxes/${secret}` } }, `message with ${secret}`);
    log.error({ err: new Error(`upstream said ${secret}`) }, 'failed');
    log.info({ nested: { deep: [{ v: `"${secret}"` }] } }, 'nested');
    const text = lines.join('');
    expect(lines).toHaveLength(3);
    expect(text).not.toContain(secret);
    expect(text.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(4);
  });

  it('masks credential headers and fields by path', () => {
    const { lines, stream } = sink();
    const log = daemonLogger('info', new SecretRedactor(), stream);
    log.info({ req: { headers: { authorization: 'Bearer abc' } }, creds: { token: 't0k', password: 'pw' } });
    const text = lines.join('');
    expect(text).not.toContain('Bearer abc');
    expect(text).not.toContain('t0k');
    expect(text).not.toContain('"pw"');
  });
});
