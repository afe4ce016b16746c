import { z } from 'zod';
import type { Conflict, LayerName, LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, readStatic, verdictOf } from './common.js';
import type { Door } from './door.js';

/**
 * A sandbox asking for its own container engine (docs/container-engine.md): an engine sandbox next to it that
 * builds images. Off unless the org says `engine := true`; a team or project layer can only turn it off.
 */
export const ContainersRequest = z
  .object({
    action: z
      .literal('engine')
      .default('engine')
      .describe('What is asked: a container engine for the sandbox.'),
  })
  .strict();
export type ContainersRequest = z.infer<typeof ContainersRequest>;

export interface EffectiveContainers {
  /** Whether a sandbox gets a container engine (every layer that speaks must say true; the org must speak). */
  engine: boolean;
}

export const containersDoor: Door<ContainersRequest, EffectiveContainers> = {
  name: 'containers',
  summary: 'a container engine (image builds) next to the sandbox: off unless the org turns it on',
  request: ContainersRequest,
  effective(layers) {
    let engine = false;
    // Who decided the current value: the org's rule, or its default when it says nothing.
    let owner: { layer: LayerName; loc: Location } = {
      layer: 'org',
      loc: { rule: 'data.aibox.org.containers.engine (undefined: default false)' },
    };
    const conflicts: Conflict[] = [];
    for (const layer of layers) {
      const rule = readStatic(layer, 'containers', 'engine', z.boolean());
      if (!rule) continue;
      if (layer.layer === 'org') {
        engine = rule.value;
        owner = { layer: 'org', loc: rule.loc };
      } else if (!rule.value) {
        engine = false;
        owner = { layer: layer.layer, loc: rule.loc };
      } else if (!engine) {
        // Tighten-only: a lower layer cannot turn on what a higher one left off.
        conflicts.push({
          key: 'containers.engine',
          value: true,
          loc: rule.loc,
          layer: layer.layer,
          against: owner,
          reason: `the container engine is off in layer ${owner.layer}`,
        });
      }
    }
    return { value: { engine }, conflicts };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: ContainersRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const rule = layer.static('containers', 'engine');
  if (rule) {
    if (rule.value === true) passes.push(rule.loc);
    else
      failures.push({
        reason: `the container engine is off in ${layer.layer}'s containers.engine`,
        loc: rule.loc,
      });
  } else if (layer.layer === 'org') failures.push(defaultDeny(layer.layer, 'containers', 'engine'));
  for (const d of layer.denials('containers', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
