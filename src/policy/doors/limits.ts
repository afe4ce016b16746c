import { z } from 'zod';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { verdictOf } from './common.js';
import type { Door } from './door.js';
import { narrowLimits } from './llm.js';

/** Resource ceilings a sandbox may ask for. */
export const Limits = z
  .object({
    cpus: z.number().positive().optional(),
    memory_mb: z.number().int().positive().optional(),
    pids: z.number().int().positive().optional(),
    disk_mb: z.number().int().positive().optional(),
    timeout_minutes: z.number().int().positive().optional(),
  })
  .strict();
export type Limits = z.infer<typeof Limits>;

export const LimitsRequest = Limits;
export type LimitsRequest = Limits;

export const limitsDoor: Door<LimitsRequest, Limits> = {
  name: 'limits',
  summary: 'resource limits: the most a sandbox may ask for (cpus, memory, pids, disk, lifetime)',
  request: LimitsRequest,
  effective(layers) {
    return narrowLimits(layers, 'limits', 'max', Limits);
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: LimitsRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const max = layer.static('limits', 'max');
  if (max) {
    const ceiling = max.value as Limits;
    for (const [k, v] of Object.entries(req)) {
      const c = ceiling[k as keyof Limits];
      if (typeof v === 'number' && c !== undefined && v > c) {
        failures.push({ reason: `${k} ${v} exceeds ${layer.layer}'s limits.max.${k} ${c}`, loc: max.loc });
      }
    }
    if (failures.length === 0) passes.push(max.loc);
  }
  for (const d of layer.denials('limits', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
