import { z } from 'zod';
import { normalisePath, pathCovers } from '../patterns.js';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, narrowList, verdictOf } from './common.js';
import type { Door } from './door.js';

const AbsPath = z.string().transform((p, ctx) => {
  const n = normalisePath(p);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${p}" must be an absolute path without ".."` });
    return z.NEVER;
  }
  return n;
});

export const MountRequest = z
  .object({
    source: AbsPath.describe('Host path to mount.'),
    target: z.string().optional().describe('Path inside the sandbox.'),
    mode: z.enum(['ro', 'rw']).default('ro'),
  })
  .strict();
export type MountRequest = z.infer<typeof MountRequest>;

export const MountRule = z.object({ path: AbsPath, mode: z.enum(['ro', 'rw']) }).strict();
export type MountRule = z.infer<typeof MountRule>;

/** rw covers ro; a deeper path is narrower. */
function mountCovers(outer: MountRule, inner: MountRule): boolean {
  return pathCovers(outer.path, inner.path) && (outer.mode === 'rw' || inner.mode === 'ro');
}

export interface EffectiveMounts {
  /** Host path prefixes that may be mounted, each read-only or writable. */
  allow: MountRule[];
}

export const mountsDoor: Door<MountRequest, EffectiveMounts> = {
  name: 'mounts',
  summary: 'file and mount access: which host paths may be mounted, read-only or writable',
  request: MountRequest,
  effective(layers) {
    const list = narrowList(layers, 'mounts', 'allow', MountRule, mountCovers, {
      show: (m) => `${m.path} (${m.mode})`,
      orgDefault: [],
    });
    return { value: { allow: list.value ?? [] }, conflicts: list.conflicts };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: MountRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const allow = layer.static('mounts', 'allow');
  if (allow) {
    const rules = (allow.value as { path: string; mode: 'ro' | 'rw' }[]).map((r) => ({
      path: normalisePath(r.path) ?? r.path,
      mode: r.mode,
    }));
    const want = { path: req.source, mode: req.mode };
    if (rules.some((r) => mountCovers(r, want))) passes.push(allow.loc);
    else {
      const ro = rules.some((r) => pathCovers(r.path, req.source));
      failures.push({
        reason: ro
          ? `${req.source} may only be mounted read-only by ${layer.layer}'s mounts.allow`
          : `${req.source} is not under any path in ${layer.layer}'s mounts.allow`,
        loc: allow.loc,
      });
    }
  } else if (layer.layer === 'org') {
    failures.push(defaultDeny(layer.layer, 'mounts', 'allow'));
  }
  for (const d of layer.denials('mounts', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
