import type { DaemonConfig } from '../../config/index.js';
import type { SandboxRuntime } from '../../runtime/index.js';
import type { Logger } from '../../shared/index.js';
import type { SandboxHook } from './hooks.js';
import { LlmProxyHook, llmProxyExtrasFrom } from './llm-proxy.js';
import { GitGateService, gitGateExtrasFrom } from './git-gate.js';
import { SshGatewayHook } from './ssh-gateway.js';
import { openAuditLog } from './audit.js';
import { PolicyService } from './policy.js';
import { EgressService } from './egress.js';

export interface HookDeps {
  config: DaemonConfig;
  logger: Logger;
  runtime: SandboxRuntime;
  daemonId: string;
}

/**
 * The enforcement layers that plug into every sandbox's lifecycle, in start order (stop runs in reverse).
 * Each layer adds one line here.
 */
export async function buildHooks(_deps: HookDeps): Promise<SandboxHook[]> {
  // Policy first: every later hook reads the sandbox's composed policy. The audit log opens here (fail closed).
  const policy = await PolicyService.create({
    ..._deps,
    audit: await openAuditLog(_deps.config.stateDir, _deps.logger),
  });
  const llm = await LlmProxyHook.create({ ..._deps, ...llmProxyExtrasFrom(policy) });
  return [
    policy.hook(),
    llm,
    await GitGateService.create({
      ..._deps,
      credentials: llm.credentials.provider,
      ...gitGateExtrasFrom(policy),
    }),
    await SshGatewayHook.create({ ..._deps, policyService: policy }),
    await EgressService.create({ ..._deps, policy }),
  ];
}
