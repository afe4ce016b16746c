import type { DaemonConfig } from '../../config/index.js';
import type { SandboxRuntime } from '../../runtime/index.js';
import type { Logger } from '../../shared/index.js';
import type { SandboxHook } from './hooks.js';
import { LlmProxyHook } from './llm-proxy.js';
import { GitGateService } from './git-gate.js';

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
  const llm = await LlmProxyHook.create(_deps);
  return [llm, await GitGateService.create({ ..._deps, credentials: llm.credentials.provider })];
}
