import { z } from 'zod';
import {
  InstallPackResult,
  InstalledPackList,
  McpEnableResult,
  McpServerList,
  PackBuildEvent,
  PackCatalogue,
  PackLintReport,
  PackSmokeResult,
} from '../shared/index.js';
import type { AiboxClient } from './client.js';
import { ClientError } from './errors.js';
import { readNdjson } from './ndjson.js';
import { UnixSocketTransport } from './transport.js';

const Removed = z.object({ removed: z.string() });
const RemovedMany = z.object({ removed: z.array(z.string()) });
export type PackBuildDone = Extract<PackBuildEvent, { type: 'done' }>;

/** The packs part of aiboxd's API (answers validated against shared/api/packs.ts). */
export class PacksApi {
  constructor(private readonly client: AiboxClient) {}

  catalogue(): Promise<PackCatalogue> {
    return this.client.json('GET', '/v1/packs', PackCatalogue);
  }

  lint(): Promise<PackLintReport> {
    return this.client.json('GET', '/v1/packs/lint', PackLintReport);
  }

  /** Builds (or finds cached) a pack, calling onEvent for each progress line. */
  async build(ref: string, force: boolean, onEvent: (e: PackBuildEvent) => void): Promise<PackBuildDone> {
    const stream = await new UnixSocketTransport(this.client.socketPath).stream('POST', '/v1/packs/build', {
      ref,
      force,
    });
    for await (const raw of readNdjson(stream)) {
      const event = PackBuildEvent.safeParse(raw);
      if (!event.success)
        throw ClientError.local(
          'DAEMON_BAD_RESPONSE',
          "aiboxd's pack build stream is not the documented one",
        );
      onEvent(event.data);
      if (event.data.type === 'done') return event.data;
      if (event.data.type === 'error') {
        const { code, message, hint } = event.data.error;
        throw new ClientError(code, message, { status: 0, hint });
      }
    }
    throw ClientError.local(
      'DAEMON_CONNECTION_LOST',
      'the pack build stream ended before the build finished',
    );
  }

  removeFromCache(ref: string): Promise<{ removed: string[] }> {
    return this.client.json('DELETE', `/v1/packs/${encodeURIComponent(ref)}`, RemovedMany);
  }

  installed(sandbox: string): Promise<InstalledPackList> {
    return this.client.json('GET', `${at(sandbox)}/packs`, InstalledPackList);
  }

  install(sandbox: string, ref: string): Promise<InstallPackResult> {
    return this.client.json('POST', `${at(sandbox)}/packs`, InstallPackResult, { ref });
  }

  uninstall(sandbox: string, name: string): Promise<{ removed: string }> {
    return this.client.json('DELETE', `${at(sandbox)}/packs/${encodeURIComponent(name)}`, Removed);
  }

  smoke(sandbox: string): Promise<PackSmokeResult> {
    return this.client.json('POST', `${at(sandbox)}/packs/smoke`, PackSmokeResult, {});
  }

  mcpList(sandbox: string): Promise<McpServerList> {
    return this.client.json('GET', `${at(sandbox)}/mcp`, McpServerList);
  }

  mcpEnable(sandbox: string, ref: string): Promise<z.infer<typeof McpEnableResult>> {
    return this.client.json('POST', `${at(sandbox)}/mcp`, McpEnableResult, { ref });
  }

  mcpDisable(sandbox: string, name: string): Promise<{ removed: string }> {
    return this.client.json('DELETE', `${at(sandbox)}/mcp/${encodeURIComponent(name)}`, Removed);
  }
}

function at(sandbox: string): string {
  return `/v1/sandboxes/${encodeURIComponent(sandbox)}`;
}
