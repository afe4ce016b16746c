import { readExecResult } from '../../shared/api/light.js';
import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { ExecRequest } from '../../shared/api/sandboxes.js';
import type { ExecResult } from '../../shared/api/system.js';
import type { ApiCore } from '../api.js';
import { execStream } from '../exec-stream.js';
import type { ExecRequestInput, ExecStreamIo } from '../exec-stream.js';

/** Commands in a sandbox: buffered (for programs) or streamed over the exec WebSocket (for people). */
export class ExecApi {
  constructor(private readonly api: ApiCore) {}

  /** Buffered exec: no tty, no stdin; the whole output in the answer. */
  run(name: string, request: ExecRequestInput | ExecRequest): Promise<ExecResult> {
    return this.api.json('POST', routePath(R.sandboxes.exec, { name }), readExecResult, {
      ...request,
      tty: false,
      stdin: false,
    });
  }

  /** Streaming exec: stdout and stderr pass through with backpressure; resolves with the exit code. */
  stream(name: string, spec: ExecRequestInput, io: ExecStreamIo): Promise<number> {
    return execStream(this.api.socketPath, name, spec, io);
  }
}
