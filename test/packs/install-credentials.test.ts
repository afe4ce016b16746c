/**
 * A pack's credential binding marked `required: true`, through the packs service's install and the real credential
 * bindings (the credentials door, the egress door toward the host, the credential store): refused with
 * PACK_CREDENTIAL_UNAVAILABLE, nothing left installed, when the secret is missing or the door denies it; installed
 * with the binding given when it is there. The artifact is a fake one in a temporary cache (nothing is built).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/index.js';
import type { DaemonConfig } from '../../src/config/index.js';
import { SecretValue, type CredentialProvider } from '../../src/credentials/index.js';
import { CredentialBindings } from '../../src/daemon/services/credential-bindings.js';
import type { EgressService } from '../../src/daemon/services/egress.js';
import { PacksService } from '../../src/daemon/services/packs.js';
import { SandboxStore } from '../../src/daemon/state/sandbox-store.js';
import type { PolicyService } from '../../src/daemon/services/policy.js';
import type { RuntimePort } from '../../src/daemon/services/runtime-port.js';
import { parseManifest, sourcesKey } from '../../src/packs/index.js';
import { policyErrors } from '../../src/policy/index.js';
import { quietLogger as quiet } from '../support/quiet-logger.js';

const target = { id: 'sbx_1', name: 's' };

const manifest = (required: boolean) => `name: tok
description: a tool that sends a registry token
default: '1'
versions:
  '1':
    sources:
      debian:
        packages: [tok]
    egress: [repo.example.com]
    credentials:
      - secret: tok-secret
        host: repo.example.com
        env: TOK_TOKEN
        required: ${required}
    smoke: ['true']
`;

interface World {
  dir: string;
  packs: PacksService;
  bindings: CredentialBindings;
  audit: { kind: string; data?: Record<string, unknown> }[];
  asked: string[];
}

/**
 * A packs service over a temporary registry and cache holding one artifact of `tok`; the egress layer is stood in
 * for by the real CredentialBindings (what the egress service's refreshBindings recomputes), reading `secrets` and
 * asking a policy that denies the credentials door for the secrets in `deny`.
 */
async function world(
  dir: string,
  opts: {
    required: boolean;
    secrets: Record<string, string>;
    deny?: string[];
    egress?: boolean;
    /** What the project's aibox/policy.yaml lists under `packs:`. */
    listed?: string[];
  },
): Promise<World> {
  const registryDir = path.join(dir, 'registry');
  await mkdir(registryDir, { recursive: true });
  const text = manifest(opts.required);
  await writeFile(path.join(registryDir, 'tok.yaml'), text);
  const parsed = parseManifest('tok.yaml', text);
  expect(parsed.problems).toEqual([]);
  const spec = parsed.manifest!.versions['1']!;
  // A built artifact in the cache, recorded from the same sources: install links it, nothing is built.
  const artifact = path.join(dir, 'cache/packs/tok@1-0123456789abcdef');
  await mkdir(path.join(artifact, 'bin'), { recursive: true });
  await writeFile(path.join(artifact, 'bin/tok'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(
    path.join(artifact, '.pack.json'),
    JSON.stringify({
      name: 'tok',
      version: '1',
      key: '0123456789abcdef',
      dir: artifact,
      debs: [],
      builtAt: new Date().toISOString(),
      sizeBytes: 1,
      sources: sourcesKey(spec),
    }),
  );
  const asked: string[] = [];
  let n = 0;
  const decide = (door: string, request: Record<string, unknown>) => {
    const id = `dec_${++n}`;
    asked.push(`${door}:${id}`);
    const denied = door === 'credentials' && (opts.deny ?? []).includes(request['secret'] as string);
    return Promise.resolve({
      id,
      outcome: denied ? 'deny' : 'allow',
      reason: denied ? 'credentials.allowed_secrets of layer org does not name it' : 'allowed',
    });
  };
  const project = {
    layer: 'project',
    static: (door: string, rule: string) =>
      door === 'packs' && rule === 'allowed' && opts.listed
        ? { value: opts.listed, loc: { at: 'aibox/policy.yaml:1' } }
        : undefined,
  };
  const policy = {
    store: { policySet: () => ({ layers: [project] }) },
    decide,
    authorize: async (door: string, request: Record<string, unknown>) => {
      const d = await decide(door, request);
      if (d.outcome === 'deny') throw policyErrors.create('POLICY_DENIED', d.reason, { decision: d.id });
      return d;
    },
  } as unknown as PolicyService;
  const provider: CredentialProvider = {
    backend: 'embedded',
    get: (name) =>
      opts.secrets[name] !== undefined
        ? Promise.resolve({ value: new SecretValue(opts.secrets[name]) } as Awaited<
            ReturnType<CredentialProvider['get']>
          >)
        : Promise.reject(new Error(`no secret named ${name}`)),
    close: () => Promise.resolve(),
  };
  const bindings = new CredentialBindings({ config: [], provider, policy, logger: quiet });
  const egress = {
    enforcing: true,
    setPackBindings: (source: Parameters<CredentialBindings['setPackSource']>[0]) =>
      bindings.setPackSource(source),
    refreshBindings: (sandbox: { id: string; name: string }) =>
      bindings.recompute(sandbox, {}, (b) => Promise.resolve(b)),
    bindingOutcomes: (id: string) => bindings.current(id)?.outcomes ?? [],
  } as unknown as EgressService;
  const audit: World['audit'] = [];
  const packs = await PacksService.create({
    config: {
      stateDir: path.join(dir, 'state'),
      runtime: { image: { cacheDir: path.join(dir, 'cache') } },
    } as unknown as DaemonConfig,
    logger: quiet,
    runtime: {} as RuntimePort,
    policy,
    audit: {
      append: (e: { kind: string; data?: Record<string, unknown> }) => {
        audit.push(e);
        return Promise.resolve(e);
      },
    } as unknown as AuditLog,
    daemonId: 'test',
    ...(opts.egress === false ? {} : { egress }),
    registryDir,
  });
  return { dir, packs, bindings, audit, asked };
}

describe('a required pack credential at install', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-pack-required-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const installedFolder = () => path.join(dir, 'state/packs/sandboxes', target.id, 'tok');

  it('refuses the install when the credential store has no such secret, and leaves nothing installed', async () => {
    const w = await world(dir, { required: true, secrets: {} });
    const err = await w.packs.install(target, 'tok').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'PACK_CREDENTIAL_UNAVAILABLE',
      status: 409,
      hint: expect.stringContaining('aibox secret set'),
      details: { pack: 'tok', secret: 'tok-secret', host: 'repo.example.com' },
    });
    expect((err as Error).message).toMatch(
      /^pack tok requires the credential tok-secret for repo\.example\.com, which sandbox "s" cannot be given: the secret "tok-secret" cannot be read: no secret named tok-secret; nothing was installed$/,
    );
    expect(await w.packs.installed(target.id)).toEqual([]);
    expect(existsSync(installedFolder())).toBe(false);
    expect(await w.packs.execEnv(target)).toEqual({});
    // The bindings were decided again after the undo: the removed pack's binding is not held any more.
    expect(w.bindings.current(target.id)?.outcomes).toEqual([]);
    // The binding's outcome is audited (never a value), and no pack.install survives as the last word.
    expect(w.audit.find((e) => e.kind === 'pack.credential')?.data).toMatchObject({
      pack: 'tok',
      secret: 'tok-secret',
      given: false,
    });
  });

  it('refuses the install when the credentials door denies the secret, naming the decision', async () => {
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, deny: ['tok-secret'] });
    const err = await w.packs.install(target, 'tok').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'PACK_CREDENTIAL_UNAVAILABLE', status: 409 });
    const denial = w.asked.find((a) => a.startsWith('credentials:'))!.slice('credentials:'.length);
    expect((err as Error).message).toContain(
      `credentials.allowed_secrets of layer org does not name it (decision ${denial}: aibox policy explain --log-entry ${denial})`,
    );
    expect((err as { details: { decisions: string[] } }).details.decisions).toContain(denial);
    expect(await w.packs.installed(target.id)).toEqual([]);
    expect(existsSync(installedFolder())).toBe(false);
  });

  it('installs with the binding given when the secret is stored and allowed', async () => {
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' } });
    const r = await w.packs.install(target, 'tok');
    expect(r.installed.map((p) => p.name)).toEqual(['tok']);
    const outcome = w.bindings.current(target.id)?.outcomes[0];
    expect(outcome).toMatchObject({ pack: 'tok', env: 'TOK_TOKEN', given: true, required: true });
    for (const id of outcome!.decisions) expect(r.decisions).toContain(id);
    expect(w.bindings.current(target.id)?.env['TOK_TOKEN']).toMatch(/^aibox-cred-[0-9a-f]{32}$/);
    expect(existsSync(path.join(installedFolder(), 'bin/tok'))).toBe(true);
  });

  it('refuses it on a daemon without the egress layer (nothing could inject it), though the secret is stored', async () => {
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, egress: false });
    await expect(w.packs.install(target, 'tok')).rejects.toMatchObject({
      code: 'PACK_CREDENTIAL_UNAVAILABLE',
      message: expect.stringContaining('without the egress layer'),
    });
    expect(await w.packs.installed(target.id)).toEqual([]);
    expect(existsSync(installedFolder())).toBe(false);
  });

  it('installs without the binding when it is not required (the default), the same secret missing', async () => {
    const w = await world(dir, { required: false, secrets: {} });
    const r = await w.packs.install(target, 'tok');
    expect(r.installed.map((p) => p.name)).toEqual(['tok']);
    expect(w.bindings.current(target.id)?.outcomes[0]).toMatchObject({ given: false, required: false });
  });
});

/**
 * The same bindings at sandbox start (prepare) and re-adoption. The egress layer prepares (and adopts) before the
 * packs layer: `egressDecides` stands for it, deciding the sandbox's bindings with what is installed then.
 */
describe('a required pack credential at start and re-adoption', () => {
  let dir = '';
  const started: PacksService[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-pack-required-start-'));
    // The sandbox exists (the packs layer forgets the packs of sandboxes without a record).
    await new SandboxStore(path.join(dir, 'state')).save({
      id: target.id,
      name: target.name,
      path: dir,
      profile: 'default',
      state: 'creating',
      image: 'x',
      createdAt: new Date().toISOString(),
      ownerUid: 0,
      env: {},
      endpoints: {},
      network: true,
    });
  });
  afterEach(async () => {
    for (const p of started.splice(0)) await p.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ctx = () => ({ ...target, path: dir, profile: 'default', logger: quiet });
  const folder = () => path.join(dir, 'state/packs/sandboxes', target.id);
  const egressDecides = (w: World) =>
    w.bindings.recompute(target, { strict: true }, (b) => Promise.resolve(b));
  const start = async (w: World) => {
    started.push(w.packs);
    await egressDecides(w);
    return w.packs.prepare(ctx());
  };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) =>
        e as { code: string; status: number; message: string; details: Record<string, unknown> },
    );
  const installedJson = async () =>
    JSON.parse(
      await readFile(path.join(dir, 'state/packs/installed.json'), 'utf8').catch(() => '{}'),
    ) as Record<string, unknown>;

  it('refuses the first start of a sandbox whose policy.yaml lists the pack, the secret missing; nothing is left', async () => {
    const w = await world(dir, { required: true, secrets: {}, listed: ['tok'] });
    const err = await failure(start(w));
    expect(err).toMatchObject({
      code: 'PACK_CREDENTIAL_UNAVAILABLE',
      status: 409,
      details: {
        pack: 'tok',
        secret: 'tok-secret',
        host: 'repo.example.com',
        listedAt: 'aibox/policy.yaml:1',
      },
    });
    expect(err!.message).toContain(
      'pack tok, listed in aibox/policy.yaml:1 (packs:), could not be installed',
    );
    expect(err!.message).toContain('the secret "tok-secret" cannot be read');
    // No record of the sandbox here, no folder, no binding held for it.
    expect(await installedJson()).toEqual({});
    expect(existsSync(folder())).toBe(false);
    expect(w.bindings.current(target.id)?.outcomes).toEqual([]);
  });

  it('refuses the first start when the credentials door denies it, naming the decision', async () => {
    const w = await world(dir, {
      required: true,
      secrets: { 'tok-secret': 'v' },
      deny: ['tok-secret'],
      listed: ['tok'],
    });
    const err = await failure(start(w));
    expect(err?.code).toBe('PACK_CREDENTIAL_UNAVAILABLE');
    const denial = w.asked
      .filter((a) => a.startsWith('credentials:'))
      .at(-1)!
      .slice('credentials:'.length);
    expect(err!.message).toContain(`(decision ${denial}: aibox policy explain --log-entry ${denial})`);
    expect(existsSync(folder())).toBe(false);
  });

  it('starts with the listed pack installed and its binding given when the secret is stored and allowed', async () => {
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, listed: ['tok'] });
    const c = await start(w);
    expect(c.mounts?.[0]).toMatchObject({ source: folder(), readOnly: true });
    expect((await w.packs.installed(target.id)).map((p) => `${p.name}:${p.via}`)).toEqual(['tok:project']);
    expect(w.bindings.current(target.id)?.env['TOK_TOKEN']).toMatch(/^aibox-cred-[0-9a-f]{32}$/);
    expect(existsSync(path.join(folder(), 'tok/bin/tok'))).toBe(true);
  });

  it('refuses a restart once the org stops allowing it (the listed pack stays recorded for a later start)', async () => {
    const deny: string[] = [];
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, listed: ['tok'], deny });
    await start(w);
    await w.packs.stop(ctx());
    deny.push('tok-secret');
    const err = await failure(start(w));
    expect(err).toMatchObject({
      code: 'PACK_CREDENTIAL_UNAVAILABLE',
      details: {
        pack: 'tok',
        secret: 'tok-secret',
        host: 'repo.example.com',
        listedAt: 'aibox/policy.yaml:1',
      },
    });
    const denial = w.asked
      .filter((a) => a.startsWith('credentials:'))
      .at(-1)!
      .slice('credentials:'.length);
    expect(err!.message).toBe(
      `pack tok, listed in aibox/policy.yaml:1 (packs:), requires the credential tok-secret for repo.example.com, which sandbox "s" cannot be given: credentials.allowed_secrets of layer org does not name it (decision ${denial}: aibox policy explain --log-entry ${denial}); the sandbox does not start`,
    );
    expect(err!.details['decisions']).toContain(denial);
    expect((await w.packs.installed(target.id)).map((p) => p.name)).toEqual(['tok']);
    // Allowed again: the next start gives it.
    deny.length = 0;
    await start(w);
    expect(w.bindings.current(target.id)?.outcomes[0]).toMatchObject({ given: true, required: true });
  });

  it('drops a pack installed through the API (not listed) at a restart whose required credential is denied', async () => {
    const deny: string[] = [];
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, deny });
    await start(w);
    await w.packs.install(target, 'tok');
    await w.packs.stop(ctx());
    deny.push('tok-secret');
    await start(w);
    expect(await w.packs.installed(target.id)).toEqual([]);
    expect(existsSync(path.join(folder(), 'tok'))).toBe(false);
    expect(await w.packs.execEnv(target)).toEqual({});
    // Decided again without it: nothing of it is held for the sandbox.
    expect(w.bindings.current(target.id)?.outcomes).toEqual([]);
    expect(w.audit.filter((e) => e.kind === 'pack.drop').map((e) => e.data)).toEqual([
      {
        pack: 'tok',
        binding: 'tok-secret → repo.example.com (TOK_TOKEN)',
        reason: expect.stringContaining('credentials.allowed_secrets of layer org does not name it'),
      },
    ]);
  });

  it('keeps a re-adopted sandbox running with the binding withheld, and says so (audit)', async () => {
    const deny: string[] = [];
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, listed: ['tok'], deny });
    await start(w);
    deny.push('tok-secret');
    // The egress layer re-adopts first: the binding is decided again and not given.
    await w.bindings.recompute(target, {}, (b) => Promise.resolve(b));
    await w.packs.adopt(target);
    expect(w.bindings.current(target.id)?.env).toEqual({});
    expect((await w.packs.installed(target.id)).map((p) => p.name)).toEqual(['tok']);
    const said = w.audit.filter((e) => e.kind === 'pack.credential' && e.data?.['at'] === 'adopt');
    expect(said.map((e) => e.data)).toEqual([
      expect.objectContaining({ pack: 'tok', secret: 'tok-secret', given: false, required: true }),
    ]);
  });

  it('lets the artifact be removed from the cache once the sandbox that had it is gone, not before', async () => {
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, listed: ['tok'] });
    await start(w);
    await expect(w.packs.removeFromCache('tok')).rejects.toMatchObject({ code: 'PACK_CACHE_IN_USE' });
    await w.packs.stop(ctx());
    await new SandboxStore(path.join(dir, 'state')).remove(target.id);
    expect(await w.packs.removeFromCache('tok')).toEqual(['tok@1-0123456789abcdef']);
    expect(existsSync(path.join(dir, 'cache/packs/tok@1-0123456789abcdef'))).toBe(false);
  });

  it('refuses a restart on a daemon without the egress layer, for a listed pack already installed', async () => {
    const w = await world(dir, { required: true, secrets: { 'tok-secret': 'v' }, listed: ['tok'] });
    await start(w);
    await w.packs.stop(ctx());
    await w.packs.close();
    const bare = await world(dir, {
      required: true,
      secrets: { 'tok-secret': 'v' },
      listed: ['tok'],
      egress: false,
    });
    started.push(bare.packs);
    const err = await failure(bare.packs.prepare(ctx()));
    expect(err?.code).toBe('PACK_CREDENTIAL_UNAVAILABLE');
    expect(err!.message).toContain('without the egress layer');
  });
});
