// The typed client of aiboxd's API (used by the CLI, tests and anything else on the host). Light to import: no
// zod until a resource whose answers need it is called.
export { AiboxClient } from './client.js';
export type { Reader } from './api.js';
export { ClientError, UNREACHABLE_CODES, clientErrors, isClientError } from './errors.js';
export type { ClientErrorCode, ErrorCode } from './errors.js';
export { execWebSocketUrl } from './exec-stream.js';
export type { ExecRequestInput, ExecStreamIo, TerminalSize } from './exec-stream.js';
export { DEFAULT_SOCKET_PATH, resolveSocketPath } from './socket.js';
export type { CreateSandboxInput } from './resources/sandboxes.js';
export type { ImageBuildDone } from './resources/system.js';
export type { PackBuildDone } from './resources/packs.js';
export type { AuditApi } from './resources/audit.js';
export type { EgressApi } from './resources/egress.js';
export type { ExecApi } from './resources/exec.js';
export type { PacksApi } from './resources/packs.js';
export type { PolicyApi } from './resources/policy.js';
export type { ProcessesApi, ProcessSignal } from './resources/processes.js';
export type { PushesApi } from './resources/pushes.js';
export type { ProposalsApi } from './resources/proposals.js';
export type { SandboxesApi } from './resources/sandboxes.js';
export type { SecretsApi } from './resources/secrets.js';
export type { SshKeysApi } from './resources/ssh-keys.js';
export type { SystemApi } from './resources/system.js';
export type { TasksApi } from './resources/tasks.js';
