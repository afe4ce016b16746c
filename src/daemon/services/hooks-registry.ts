import type { DaemonConfig } from '../../config/index.js';
import type { SandboxRuntime } from '../../runtime/index.js';
import type { Logger } from '../../shared/index.js';
import type { SandboxHook } from './hooks.js';
import { LlmProxyHook, llmProxyExtrasFrom } from './llm-proxy.js';
import { GitGateService, gitGateExtrasFrom } from './git-gate.js';
import { SshGatewayHook } from './ssh-gateway.js';
import type { AuditLog } from '../../audit/index.js';
import type { SecretRedactor } from '../../credentials/index.js';
import { PolicyService } from './policy.js';
import { EgressService } from './egress.js';
import { PacksService } from './packs.js';

export interface HookDeps {
  config: DaemonConfig;
  logger: Logger;
  runtime: SandboxRuntime;
  daemonId: string;
}

/** What the composition root opens before any layer and every layer shares. */
export interface SharedDeps {
  /** aiboxd does not act without a record of what it did: opened first, fail closed. */
  audit: AuditLog;
  /** Masks secret values in the daemon's log; the credentials service registers what it loads. */
  redactor: SecretRedactor;
}

/**
 * The order layers start in (stop runs in reverse). Policy first: every later hook reads the sandbox's composed
 * policy. Egress second: its `started` applies the network rules before any other layer's `started` runs, so
 * nothing (an SSH session, a gateway connection) can reach the sandbox in a window without rules, and at stop it
 * is released last, after the container is gone. The SSH gateway last: a sandbox becomes reachable over SSH only
 * once every other layer is up.
 */
export const START_ORDER = ['policy', 'egress', 'llm-proxy', 'git-gate', 'ssh-gateway'] as const;

/** Sorts hooks into START_ORDER (layers it does not name keep their relative order, before the SSH gateway). */
export function inStartOrder<T extends { layer: string }>(hooks: T[]): T[] {
  const rank = (h: T) => {
    const i = (START_ORDER as readonly string[]).indexOf(h.layer);
    return i >= 0 ? i : START_ORDER.length - 1.5;
  };
  return hooks
    .map((h, i) => ({ h, i }))
    .sort((a, b) => rank(a.h) - rank(b.h) || a.i - b.i)
    .map(({ h }) => h);
}

/** The enforcement layers that plug into every sandbox's lifecycle, in START_ORDER. Each layer adds one line here. */
export async function buildHooks(_deps: HookDeps, shared: SharedDeps): Promise<SandboxHook[]> {
  const policy = await PolicyService.create({ ..._deps, audit: shared.audit });
  const llm = await LlmProxyHook.create({
    ..._deps,
    redactor: shared.redactor,
    ...llmProxyExtrasFrom(policy),
  });
  const egress = await EgressService.create({ ..._deps, policy });
  return inStartOrder([
    policy.hook(),
    egress,
    llm,
    await GitGateService.create({
      ..._deps,
      credentials: llm.credentials.provider,
      ...gitGateExtrasFrom(policy),
    }),
    await PacksService.create({ ..._deps, policy, audit: policy.auditLog, egress }),
    await SshGatewayHook.create({ ..._deps, policyService: policy }),
  ]);
}
