import { z } from 'zod';
import { globCovers, globMatches } from '../patterns.js';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, narrowList, verdictOf } from './common.js';
import type { Door } from './door.js';

export const PackRequest = z
  .object({
    name: z.string().min(1),
    version: z.string().optional(),
    kind: z.enum(['tool', 'mcp']).default('tool'),
    /** An MCP `tools/call` through the gateway: the tool's name (the server is `name`). */
    tool: z.string().min(1).max(256).optional(),
  })
  .strict();
export type PackRequest = z.infer<typeof PackRequest>;

const Name = z.string().regex(/^[a-z0-9][a-z0-9._-]*\*?$|^\*$/, 'a pack name or a prefix ending in *');
/** `SERVER/TOOL`, either part a prefix ending in * (`mcp-git/git_log`, `mcp-filesystem/read_*`, `*`). */
const ToolPattern = z
  .string()
  .max(300)
  .regex(/^\*$|^[a-z0-9][a-z0-9._-]*(\*|\/[^\s*]*\*?)$/, 'SERVER/TOOL, or a prefix of it ending in *');

export interface EffectivePacks {
  /** Tool and MCP pack names (or name prefixes ending in *) that may be installed. */
  allowed: string[];
  /** MCP tools (`SERVER/TOOL` patterns) the gateway lets through; undefined: every tool of an allowed server. */
  tools?: string[];
}

export const packsDoor: Door<PackRequest, EffectivePacks> = {
  name: 'packs',
  summary: 'tool and MCP packs that may be installed into the sandbox',
  request: PackRequest,
  effective(layers) {
    const list = narrowList(layers, 'packs', 'allowed', Name, globCovers, { orgDefault: [] });
    const tools = narrowList(layers, 'packs', 'tools', ToolPattern, globCovers);
    return {
      value: { allowed: list.value ?? [], ...(tools.value ? { tools: tools.value } : {}) },
      conflicts: [...list.conflicts, ...tools.conflicts],
    };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: PackRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const allowed = layer.static('packs', 'allowed');
  if (allowed) {
    if ((allowed.value as string[]).some((p) => globMatches(p, req.name))) passes.push(allowed.loc);
    else
      failures.push({
        reason: `pack ${req.name} is not in ${layer.layer}'s packs.allowed`,
        loc: allowed.loc,
      });
  } else if (layer.layer === 'org') failures.push(defaultDeny(layer.layer, 'packs', 'allowed'));
  if (req.tool !== undefined) {
    // A tool call: each layer that lists tools must list this one (tighten-only); no list leaves tools to others.
    const tools = layer.static('packs', 'tools');
    const call = `${req.name}/${req.tool}`;
    if (tools && Array.isArray(tools.value)) {
      if ((tools.value as unknown[]).some((p) => typeof p === 'string' && globMatches(p, call)))
        passes.push(tools.loc);
      else
        failures.push({ reason: `MCP tool ${call} is not in ${layer.layer}'s packs.tools`, loc: tools.loc });
    }
  }
  for (const d of layer.denials('packs', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
