// The typed client of aiboxd's API (used by the CLI, tests and anything else on the host).
export { AiboxClient, BaseImageReport, EgressSelftestReport, RemovedReport, SandboxList } from './client.js';
export type { CreateSandboxInput, ImageBuildDone } from './client.js';
export { ClientError, UNREACHABLE_CODES, clientErrors, isClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export { execWebSocketUrl } from './exec-stream.js';
export type { ExecRequestInput, ExecStreamIo, TerminalSize } from './exec-stream.js';
export { DEFAULT_SOCKET_PATH, resolveSocketPath } from './socket.js';
export { UnixSocketTransport, errorFromAnswer, parseJson } from './transport.js';
export { PacksApi, type PackBuildDone } from './packs.js';
