import type {
  InstallPackResult,
  InstalledPackList,
  McpEnableResult,
  McpServerList,
  PackBuildEvent,
  PackCatalogue,
  PackLintReport,
  PackSmokeResult,
} from '../../shared/api/packs.js';
import { readRemoved } from '../../shared/api/light.js';
import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

export type PackBuildDone = Extract<PackBuildEvent, { type: 'done' }>;

const schemas = () => import('../../shared/api/packs.js');

/** Tool and MCP packs: the registry, the host cache, and what each sandbox has installed and enabled. */
export class PacksApi {
  constructor(private readonly api: ApiCore) {}

  async catalogue(): Promise<PackCatalogue> {
    const s = await schemas();
    return this.api.json('GET', R.packs.catalogue, bySchema(s.PackCatalogue));
  }

  async lint(): Promise<PackLintReport> {
    const s = await schemas();
    return this.api.json('GET', R.packs.lint, bySchema(s.PackLintReport));
  }

  /** Builds (or finds cached) a pack, calling onEvent for each progress line. */
  async build(ref: string, force: boolean, onEvent: (e: PackBuildEvent) => void): Promise<PackBuildDone> {
    const s = await schemas();
    return this.api.build(R.packs.build, { ref, force }, bySchema(s.PackBuildEvent), onEvent);
  }

  async removeFromCache(ref: string): Promise<{ removed: string[] }> {
    const s = await schemas();
    return this.api.json('DELETE', routePath(R.packs.cached, { ref }), bySchema(s.RemovedPackList));
  }

  async installed(name: string): Promise<InstalledPackList> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.packs.installed, { name }), bySchema(s.InstalledPackList));
  }

  async install(name: string, ref: string): Promise<InstallPackResult> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.packs.installed, { name }), bySchema(s.InstallPackResult), {
      ref,
    });
  }

  uninstall(name: string, pack: string): Promise<{ removed: string }> {
    return this.api.json('DELETE', routePath(R.packs.installedOne, { name, pack }), readRemoved);
  }

  async smoke(name: string): Promise<PackSmokeResult> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.packs.smoke, { name }), bySchema(s.PackSmokeResult), {});
  }

  async mcpList(name: string): Promise<McpServerList> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.packs.mcp, { name }), bySchema(s.McpServerList));
  }

  async mcpEnable(name: string, ref: string): Promise<McpEnableResult> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.packs.mcp, { name }), bySchema(s.McpEnableResult), { ref });
  }

  mcpDisable(name: string, pack: string): Promise<{ removed: string }> {
    return this.api.json('DELETE', routePath(R.packs.mcpOne, { name, pack }), readRemoved);
  }
}
