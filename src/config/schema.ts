import { z } from 'zod';
import { RuntimeConfig } from './runtime-config.js';
import { CredentialsConfig } from '../credentials/index.js';
import { LlmConfig } from '../llm-proxy/index.js';
import { GitGateConfig } from '../git-gate/index.js';
import { PolicyConfig } from '../policy/index.js';
import { EgressConfig } from '../egress/index.js';
import { SshGatewayConfig } from '../ssh-gateway/index.js';
import { PoolConfig } from './pool-config.js';
import { SessionsConfig } from '../sessions/config.js';
import { PackageCacheConfig } from '../package-cache/config.js';
import { DashboardConfig } from '../daemon/dashboard/config.js';
import { PacksConfig } from '../packs/config.js';
import { CompanionsConfig } from '../companions/config.js';

/**
 * The daemon's configuration. Modules own their sections' schemas; this file composes them. Add a module's section
 * as `<module>: <Module>Config.default(...)` so older config files keep validating.
 */
export const DaemonConfig = z
  .object({
    socket: z.string().startsWith('/').describe('Unix socket the API listens on.'),
    stateDir: z.string().startsWith('/').describe('Where sandboxes, logs and keys are kept.'),
    socketGroup: z.string().min(1).describe('Group allowed to use the socket besides root.'),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error']) }).strict(),
    runtime: RuntimeConfig,
    profilesDir: z
      .string()
      .describe('Directory of security profiles; empty means the profiles/ folder shipped with aibox.'),
    credentials: CredentialsConfig.prefault({}).describe(
      'Secret backend: Vault, or the embedded encrypted store.',
    ),
    llm: LlmConfig.prefault({}).describe('LLM sidecar proxy: providers, upstreams, payload logging.'),
    policy: PolicyConfig.prefault({}).describe(
      'Layered policy: the policy repo (org/, teams/), default team, hot reload.',
    ),
    git: GitGateConfig.prefault({}).describe(
      'Git gateway: upstream repositories, notifications, tasks (push decisions: the policy push door).',
    ),
    sshGateway: SshGatewayConfig.prefault({}).describe('SSH gateway for IDEs on 127.0.0.1:2222.'),
    egress: EgressConfig.prefault({}).describe(
      'Egress: per-sandbox Squid, allowlisting DNS, nftables; upstream proxy.',
    ),
    sessions: SessionsConfig.prefault({}).describe(
      'Session API for programs: the network listener (bearer tokens, TLS), quotas, TTLs, rate limits.',
    ),
    pool: PoolConfig.prefault({}).describe(
      'Sandboxes without a host folder: workspace size cap, and the warm pool per profile.',
    ),
    packageCache: PackageCacheConfig.prefault({}).describe(
      'Shared package cache: npm, PyPI, Maven, Go modules and Debian served to sandboxes from verified, content-addressed copies.',
    ),
    packs: PacksConfig.prefault({}).describe('Tool and MCP packs: where the pack manifests are read from.'),
    companions: CompanionsConfig.prefault({}).describe(
      'Companion services (aibox/services.yaml): how often they are checked, how often restarted.',
    ),
    dashboard: DashboardConfig.prefault({}).describe(
      'The web dashboard on a loopback port of its own (off by default; see also sessions.listener.dashboard).',
    ),
  })
  .strict();
export type DaemonConfig = z.infer<typeof DaemonConfig>;
