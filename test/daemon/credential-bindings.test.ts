import { describe, expect, it } from 'vitest';
import { SecretValue, type CredentialProvider } from '../../src/credentials/index.js';
import {
  CredentialBindings,
  type PackBinding,
  type SandboxBindings,
} from '../../src/daemon/services/credential-bindings.js';
import type { PolicyService } from '../../src/daemon/services/policy.js';
import { quietLogger as quiet } from '../support/quiet-logger.js';

const sandbox = { id: 'sbx_1', name: 's' };

function provider(values: Record<string, string>): CredentialProvider {
  return {
    backend: 'embedded',
    get: (name) =>
      values[name] !== undefined
        ? Promise.resolve({ value: new SecretValue(values[name]) } as Awaited<
            ReturnType<CredentialProvider['get']>
          >)
        : Promise.reject(new Error(`no secret named ${name}`)),
    close: () => Promise.resolve(),
  };
}

/** A policy that denies the credentials door for the secrets in `deny` and the egress door for the hosts in `closed`. */
function policy(deny: Set<string>, closed = new Set<string>()) {
  const asked: { door: string; request: Record<string, unknown> }[] = [];
  let n = 0;
  const service = {
    decide: (door: string, request: Record<string, unknown>) => {
      asked.push({ door, request });
      const denied =
        door === 'credentials' ? deny.has(request.secret as string) : closed.has(request.host as string);
      return Promise.resolve({ id: `dec_${++n}`, outcome: denied ? 'deny' : 'allow', reason: 'because' });
    },
  } as unknown as PolicyService;
  return { service, asked };
}

const mirror: PackBinding = {
  pack: 'maven',
  version: '3.8',
  binding: {
    secret: 'mirror-token',
    host: 'repo.example.com',
    header: 'Authorization',
    format: 'Bearer {value}',
    env: 'MIRROR_TOKEN',
  },
  port: 443,
  required: false,
};
const config = [
  {
    secret: 'gh',
    host: 'api.github.com',
    header: 'Authorization',
    format: 'token {value}',
    env: 'GITHUB_TOKEN',
  },
];

describe('credential bindings of a sandbox', () => {
  it("gives the config's and the installed packs' bindings the doors allow, values in rule order", async () => {
    const p = policy(new Set());
    const b = new CredentialBindings({
      config,
      provider: provider({ gh: 'ghp_x', 'mirror-token': 'm_y' }),
      policy: p.service,
      logger: quiet,
    });
    b.setPackSource(() => Promise.resolve([mirror]));
    const got = await b.recompute(sandbox, { strict: true }, (x) => Promise.resolve(x));
    expect(got.rules.map((r) => r.host)).toEqual(['api.github.com', 'repo.example.com']);
    expect(got.values.values).toEqual(['ghp_x', 'm_y']);
    expect(got.values.formats).toEqual(['token {value}', 'Bearer {value}']);
    expect(got.values.placeholders).toEqual(got.rules.map((r) => r.placeholder));
    expect(Object.keys(got.env)).toEqual(['GITHUB_TOKEN', 'MIRROR_TOKEN']);
    expect(b.env(sandbox.id)).toEqual(got.env);
    // The pack's binding went through the credentials door and the egress door toward its host and port.
    expect(p.asked).toEqual([
      {
        door: 'credentials',
        request: { secret: 'gh', host: 'api.github.com', env: 'GITHUB_TOKEN', source: 'config' },
      },
      {
        door: 'credentials',
        request: {
          secret: 'mirror-token',
          host: 'repo.example.com',
          env: 'MIRROR_TOKEN',
          source: 'pack',
          pack: 'maven',
        },
      },
      { door: 'egress', request: { host: 'repo.example.com', port: 443 } },
    ]);
  });

  it('keeps a placeholder for the life of the sandbox (denied then allowed again: the same one), and restores saved ones', async () => {
    const deny = new Set<string>();
    const b = new CredentialBindings({
      config: [],
      provider: provider({ 'mirror-token': 'm_y' }),
      policy: policy(deny).service,
      logger: quiet,
    });
    b.setPackSource(() => Promise.resolve([mirror]));
    const first = await b.recompute(sandbox, {}, (x) => Promise.resolve(x));
    deny.add('mirror-token');
    const denied = await b.recompute(sandbox, {}, (x) => Promise.resolve(x));
    expect(denied.rules).toEqual([]);
    expect(denied.env).toEqual({});
    expect(denied.outcomes[0]).toMatchObject({ given: false, decisions: ['dec_3'] });
    expect(denied.outcomes[0]!.reason).toContain('aibox policy explain --log-entry dec_3');
    deny.clear();
    const again = await b.recompute(sandbox, {}, (x) => Promise.resolve(x));
    expect(again.env).toEqual(first.env);

    const restarted = new CredentialBindings({
      config: [],
      provider: provider({ 'mirror-token': 'm_y' }),
      policy: policy(new Set()).service,
      logger: quiet,
    });
    restarted.setPackSource(() => Promise.resolve([mirror]));
    const adopted = await restarted.recompute(sandbox, { saved: first.placeholders }, (x) =>
      Promise.resolve(x),
    );
    expect(adopted.env).toEqual(first.env);
  });

  it("skips a pack's binding whose secret is missing, or whose host the egress door closes; a config one fails a start", async () => {
    const b = new CredentialBindings({
      config,
      provider: provider({}),
      policy: policy(new Set(), new Set(['repo.example.com'])).service,
      logger: quiet,
    });
    b.setPackSource(() => Promise.resolve([mirror]));
    await expect(b.recompute(sandbox, { strict: true }, (x) => Promise.resolve(x))).rejects.toMatchObject({
      code: 'EGRESS_CREDENTIAL',
    });
    const later = await b.recompute(sandbox, {}, (x) => Promise.resolve(x));
    expect(later.rules).toEqual([]);
    expect(later.outcomes).toMatchObject([
      { env: 'GITHUB_TOKEN', given: false, reason: expect.stringMatching(/^the secret "gh" cannot be read/) },
      {
        env: 'MIRROR_TOKEN',
        given: false,
        reason: expect.stringMatching(/^egress to repo\.example\.com:443 is denied/),
      },
    ]);
  });

  it('refreshes values under the same lock, keeping the last one when a read fails', async () => {
    const values: Record<string, string> = { 'mirror-token': 'v1' };
    const b = new CredentialBindings({
      config: [],
      provider: provider(values),
      policy: policy(new Set()).service,
      logger: quiet,
    });
    b.setPackSource(() => Promise.resolve([mirror]));
    await b.recompute(sandbox, {}, (x) => Promise.resolve(x));
    values['mirror-token'] = 'v2';
    const seen: SandboxBindings[] = [];
    await b.refresh(sandbox.id, (x) => Promise.resolve(void seen.push(x)));
    delete values['mirror-token'];
    await b.refresh(sandbox.id, (x) => Promise.resolve(void seen.push(x)));
    expect(seen.map((s) => s.values.values)).toEqual([['v2'], ['v2']]);
    expect(b.current(sandbox.id)?.values.values).toEqual(['v2']);
  });
});
