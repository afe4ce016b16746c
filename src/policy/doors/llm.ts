import { z } from 'zod';
import { globCovers, globMatches } from '../patterns.js';
import type { Conflict, LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, narrowList, readStatic, verdictOf } from './common.js';
import type { Door } from './door.js';

export const LlmRequest = z
  .object({
    provider: z.string().min(1),
    model: z.string().min(1),
    tokens: z.number().int().nonnegative().optional().describe('Requested max tokens of this call.'),
  })
  .strict();
export type LlmRequest = z.infer<typeof LlmRequest>;

const Name = z.string().regex(/^[A-Za-z0-9._:/@-]*\*?$/, 'a name or a prefix ending in *');

export const LlmLimits = z
  .object({
    max_tokens_per_request: z.number().int().positive().optional(),
    requests_per_minute: z.number().int().positive().optional(),
    tokens_per_day: z.number().int().positive().optional(),
  })
  .strict();
export type LlmLimits = z.infer<typeof LlmLimits>;

export interface EffectiveLlm {
  providers: string[];
  models: string[];
  limits: LlmLimits;
}

export const llmDoor: Door<LlmRequest, EffectiveLlm> = {
  name: 'llm',
  summary: 'LLM use through the gateway: providers, models and limits',
  request: LlmRequest,
  effective(layers) {
    const providers = narrowList(layers, 'llm', 'allowed_providers', Name, globCovers, { orgDefault: [] });
    const models = narrowList(layers, 'llm', 'allowed_models', Name, globCovers, { orgDefault: [] });
    const limits = narrowLimits(layers, 'llm', 'limits', LlmLimits);
    return {
      value: { providers: providers.value ?? [], models: models.value ?? [], limits: limits.value },
      conflicts: [...providers.conflicts, ...models.conflicts, ...limits.conflicts],
    };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

/** Numeric ceilings: the effective value is the minimum; a lower layer raising one is a conflict. */
export function narrowLimits<T extends Record<string, number | undefined>>(
  layers: readonly LayerView[],
  door: string,
  rule: string,
  schema: z.ZodType<T>,
): { value: T; conflicts: Conflict[] } {
  const value: Record<string, number> = {};
  const owners: Record<string, { layer: LayerView['layer']; loc: Location }> = {};
  const conflicts: Conflict[] = [];
  for (const layer of layers) {
    const got = readStatic(layer, door, rule, schema);
    if (!got) continue;
    for (const [k, v] of Object.entries(got.value)) {
      if (typeof v !== 'number') continue;
      const cur = value[k];
      const owner = owners[k];
      if (cur !== undefined && owner && v > cur) {
        conflicts.push({
          key: `${door}.${rule}.${k}`,
          value: v,
          loc: got.loc,
          layer: layer.layer,
          against: { layer: owner.layer, loc: owner.loc },
          reason: `${k} ${v} exceeds ${cur} set by layer ${owner.layer}${owner.loc.at ? ` (${owner.loc.at})` : ''}`,
        });
        continue;
      }
      value[k] = v;
      owners[k] = { layer: layer.layer, loc: got.loc };
    }
  }
  return { value: value as T, conflicts };
}

function verdict(req: LlmRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const check = (rule: string, what: string, name: string) => {
    const got = layer.static('llm', rule);
    if (got) {
      if ((got.value as string[]).some((p) => globMatches(p, name))) passes.push(got.loc);
      else failures.push({ reason: `${what} ${name} is not in ${layer.layer}'s llm.${rule}`, loc: got.loc });
    } else if (layer.layer === 'org') failures.push(defaultDeny(layer.layer, 'llm', rule));
  };
  check('allowed_providers', 'provider', req.provider);
  check('allowed_models', 'model', req.model);
  const limits = layer.static('llm', 'limits');
  const max = (limits?.value as LlmLimits | undefined)?.max_tokens_per_request;
  if (limits && max !== undefined && req.tokens !== undefined && req.tokens > max) {
    failures.push({
      reason: `${req.tokens} tokens exceed ${layer.layer}'s max_tokens_per_request ${max}`,
      loc: limits.loc,
    });
  }
  for (const d of layer.denials('llm', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
