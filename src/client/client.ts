import { ApiCore } from './api.js';
import { AuditApi } from './resources/audit.js';
import { EgressApi } from './resources/egress.js';
import { ExecApi } from './resources/exec.js';
import { PacksApi } from './resources/packs.js';
import { PolicyApi } from './resources/policy.js';
import { ProcessesApi } from './resources/processes.js';
import { ProposalsApi } from './resources/proposals.js';
import { SessionsApi } from './resources/sessions.js';
import { TokensApi } from './resources/tokens.js';
import { PushesApi } from './resources/pushes.js';
import { SandboxesApi } from './resources/sandboxes.js';
import { SecretsApi } from './resources/secrets.js';
import { SshKeysApi } from './resources/ssh-keys.js';
import { SystemApi } from './resources/system.js';
import { TasksApi } from './resources/tasks.js';

/**
 * The typed client of aiboxd's API over its unix socket, one group per resource:
 *   await client.sandboxes.list();  await client.pushes.approve(id);  await client.exec.stream(name, spec, io);
 * Every answer is read into its contract shape (src/shared/api) or rejected as DAEMON_BAD_RESPONSE; every refusal
 * is a ClientError with the daemon's stable code. A group loads its zod schemas on its first call, so the hot
 * paths (version, sandboxes, exec) never load zod at all.
 */
export class AiboxClient {
  readonly system: SystemApi;
  readonly sandboxes: SandboxesApi;
  readonly exec: ExecApi;
  readonly processes: ProcessesApi;
  readonly pushes: PushesApi;
  readonly secrets: SecretsApi;
  readonly tasks: TasksApi;
  readonly sshKeys: SshKeysApi;
  readonly policy: PolicyApi;
  readonly audit: AuditApi;
  readonly packs: PacksApi;
  readonly egress: EgressApi;
  readonly tokens: TokensApi;
  readonly sessions: SessionsApi;
  readonly proposals: ProposalsApi;

  constructor(readonly socketPath: string) {
    const api = new ApiCore(socketPath);
    this.system = new SystemApi(api);
    this.sandboxes = new SandboxesApi(api);
    this.exec = new ExecApi(api);
    this.processes = new ProcessesApi(api);
    this.pushes = new PushesApi(api);
    this.secrets = new SecretsApi(api);
    this.tasks = new TasksApi(api);
    this.sshKeys = new SshKeysApi(api);
    this.policy = new PolicyApi(api);
    this.audit = new AuditApi(api);
    this.packs = new PacksApi(api);
    this.egress = new EgressApi(api);
    this.tokens = new TokensApi(api);
    this.sessions = new SessionsApi(api);
    this.proposals = new ProposalsApi(api);
  }
}
