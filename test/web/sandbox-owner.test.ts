/**
 * The owner in a sandbox report (the dashboard's Owner column): the creating user's name from the host's passwd
 * file, or the token that holds a session on the sandbox.
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserNames } from '../../src/daemon/services/user-names.js';
import { withSessionOwners } from '../../src/daemon/routes/sandbox-owners.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import type { SandboxReport } from '../../src/shared/index.js';

describe('user names', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names a uid from the passwd file, the first entry winning, and re-reads the file when it changes', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-passwd-'));
    const file = path.join(dir, 'passwd');
    await writeFile(
      file,
      'root:x:0:0::/root:/bin/sh\ndev:x:1000:1000::/home/dev:/bin/sh\nalias:x:1000:1000::/:/bin/sh\nbroken\n',
    );
    const names = new UserNames(file);
    expect(await names.name(0)).toBe('root');
    expect(await names.name(1000)).toBe('dev');
    expect(await names.name(4242)).toBe('uid 4242');
    await writeFile(file, 'root:x:0:0::/root:/bin/sh\nnewcomer:x:4242:4242::/:/bin/sh\n');
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    expect(await names.name(4242)).toBe('newcomer');
  });

  it('answers uid N when the file cannot be read', async () => {
    expect(await new UserNames('/nonexistent/passwd').name(7)).toBe('uid 7');
  });
});

describe('session owners', () => {
  const report = (name: string, owner: string) => ({ name, owner }) as SandboxReport;
  const services = (owners: [string, string][]) =>
    ({
      sessionApi: {
        sessions: { ownersBySandbox: () => new Map(owners) },
        tokens: { list: () => [{ id: 'tok_abc', name: 'ci-bot' }] },
      },
    }) as unknown as DaemonServices;

  it("names the token holding a session's sandbox, and leaves other sandboxes to their user", () => {
    const out = withSessionOwners(
      services([
        ['s1', 'tok_abc'],
        ['s2', 'tok_gone'],
        ['s3', 'uid:1000'],
      ]),
      [report('s1', 'root'), report('s2', 'root'), report('s3', 'dev'), report('box', 'dev')],
    );
    expect(out.map((r) => r.owner)).toEqual(['token ci-bot', 'token tok_gone', 'dev', 'dev']);
  });
});
