import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliTestDaemon } from './daemon.js';
import type { CliTestDaemon } from './daemon.js';
import { aibox, printedError } from './run-cli.js';

describe('aibox token and aibox session (through AiboxClient)', () => {
  let daemon: CliTestDaemon;
  let socket: string;

  beforeAll(async () => {
    daemon = await startCliTestDaemon();
    socket = daemon.socket;
  });
  afterAll(() => daemon.close());

  it('creates a token (printed once), lists it without its secret and revokes it', async () => {
    const created = await aibox(['token', 'create', 'ci-bot', '--scope', 'admin', '--expires', '1d'], {
      socket,
    });
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^aibox_tok_/);
    expect(daemon.requests.at(-1)).toMatchObject({ method: 'POST', url: '/v1/tokens' });

    const listed = await aibox(['token', 'list', '--json'], { socket });
    const { tokens } = JSON.parse(listed.stdout) as {
      tokens: { name: string; scope: string; state: string }[];
    };
    expect(tokens).toContainEqual(
      expect.objectContaining({ name: 'ci-bot', scope: 'admin', state: 'active' }),
    );
    expect(listed.stdout).not.toContain(secret);

    const revoked = await aibox(['token', 'revoke', 'ci-bot'], { socket });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(daemon.requests.at(-1)).toMatchObject({ method: 'DELETE', url: '/v1/tokens/ci-bot' });
    const after = JSON.parse((await aibox(['token', 'list', '--json'], { socket })).stdout) as {
      tokens: { name: string; state: string }[];
    };
    expect(after.tokens.find((t) => t.name === 'ci-bot')?.state).toBe('revoked');
  });

  it('refuses a scope it does not know before asking the daemon', async () => {
    const before = daemon.requests.length;
    const bad = await aibox(['token', 'create', 'x', '--scope', 'everything'], { socket });
    expect(printedError(bad.stderr).code).toBe('CLI_USAGE');
    expect(daemon.requests.length).toBe(before);
  });

  it('lists sessions and answers a removal of an unknown one with the API code', async () => {
    const listed = await aibox(['session', 'list', '--json'], { socket });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ sessions: [] });
    const rm = await aibox(['session', 'rm', 'ses_doesnotexist'], { socket });
    expect(rm.code).toBe(1);
    expect(printedError(rm.stderr).code).toBe('SESSION_NOT_FOUND');
    expect(daemon.requests.at(-1)).toMatchObject({ method: 'DELETE', url: '/v1/sessions/ses_doesnotexist' });
  });
});
