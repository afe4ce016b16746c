import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/index.js';
import type { DaemonConfig } from '../../src/config/index.js';
import { openAuditLog } from '../../src/daemon/services/audit.js';
import { PolicyService } from '../../src/daemon/services/policy.js';
import { quiet } from './helpers.js';

let dir: string;
let audit: AuditLog;
let service: PolicyService;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-policy-svc-'));
  audit = await openAuditLog(dir, quiet);
  const config = { policy: { repo: '', watch: false, debounceMs: 50 } } as unknown as DaemonConfig;
  service = await PolicyService.create({ config, audit, logger: quiet });
});
afterEach(async () => {
  service.close();
  await audit.close();
  await rm(dir, { recursive: true, force: true });
});

describe('policy service (daemon adapter, shipped policies)', () => {
  it('records every decision in the audit log and explains it by id', async () => {
    const d = await service.decide('egress', { host: 'example.com' });
    expect(d.outcome).toBe('deny');
    const rec = await audit.find(d.id);
    expect(rec).toMatchObject({ kind: 'decision', id: d.id, data: { door: 'egress', outcome: 'deny' } });
    expect(await service.explain(d.id)).toMatchObject({ id: d.id, reason: d.reason });
    await expect(service.explain('dec_0000')).rejects.toMatchObject({
      code: 'POLICY_DECISION_NOT_FOUND',
      status: 404,
    });
  });

  it('refuses with a 403 that carries the decision id', async () => {
    const err = await service.authorize('exec', { argv: ['nsenter', '-t', '1'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'POLICY_DENIED', status: 403 });
    const id = (err as { details: { decision: string } }).details.decision;
    expect((err as Error).message).toContain(`aibox policy explain --log-entry ${id}`);
    expect((await service.explain(id)).outcome).toBe('deny');
  });

  it('explains a decision the egress proxy made under its own id', async () => {
    await service.recordEnforced({
      id: 'dec_abcdef123456',
      door: 'egress',
      request: { host: 'evil.example', port: 443 },
      outcome: 'deny',
      enforcedBy: 'proxy: EGRESS_DOMAIN_NOT_ALLOWED',
    });
    const d = await service.explain('dec_abcdef123456');
    expect(d.reason).toMatch(
      /^proxy: EGRESS_DOMAIN_NOT_ALLOWED \(org: evil.example is not in org's egress.allow_domains\)/,
    );
    expect(d.layers[0]).toMatchObject({
      layer: 'org',
      verdict: 'deny',
      rules: [{ at: expect.stringMatching(/^org\/egress.rego:/) }],
    });
  });

  it('reports the policy in force to aibox doctor', () => {
    expect(service.doctorChecks()).toEqual([
      expect.objectContaining({ name: 'policy loaded', layer: 'policy', ok: true }),
    ]);
  });

  it('keeps the audit chain intact across decisions', async () => {
    await Promise.all([1, 2, 3].map(() => service.decide('push', { ref: 'refs/heads/main' })));
    expect(await audit.verify()).toMatchObject({ ok: true });
  });
});
