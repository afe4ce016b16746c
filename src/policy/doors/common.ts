import { z } from 'zod';
import { policyErrors } from '../errors.js';
import { intersect } from '../patterns.js';
import type { Conflict, LayerName, LayerVerdict, LayerView, Located, Location } from '../types.js';

/** Reads a static rule and checks its shape; a wrong shape is a load error naming the rule and its location. */
export function readStatic<T>(
  layer: LayerView,
  door: string,
  rule: string,
  schema: z.ZodType<T>,
): Located<T> | undefined {
  const got = layer.static(door, rule);
  if (got === undefined) return undefined;
  const parsed = schema.safeParse(got.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw policyErrors.create(
      'POLICY_BAD_VALUE',
      `${got.loc.at ?? layer.layer}: ${door}.${rule}${where}: ${issue?.message ?? 'wrong shape'}`,
      { policyLayer: layer.layer, key: `${door}.${rule}`, file: got.loc.at, rule: got.loc.rule },
    );
  }
  return { value: parsed.data, loc: got.loc };
}

export interface NarrowedList<T> {
  /** The effective list; undefined when no layer defines it. */
  value: T[] | undefined;
  /** The layer values in order, for verdicts and explain. */
  perLayer: { layer: LayerName; list: Located<T[]> | undefined }[];
  conflicts: Conflict[];
}

/**
 * Walks the layers top-down: each layer that defines the list must stay inside what the layers above allow
 * (else a Conflict naming both), and the effective list is the intersection.
 */
export function narrowList<T>(
  layers: readonly LayerView[],
  door: string,
  rule: string,
  item: z.ZodType<T>,
  covers: (outer: T, inner: T) => boolean,
  opts: { show?: (v: T) => string; orgDefault?: T[] } = {},
): NarrowedList<T> {
  const show = opts.show ?? String;
  let value: T[] | undefined;
  let owner: { layer: LayerName; loc: Location } | undefined;
  const perLayer: NarrowedList<T>['perLayer'] = [];
  const conflicts: Conflict[] = [];
  for (const layer of layers) {
    const list = readStatic(layer, door, rule, z.array(item));
    perLayer.push({ layer: layer.layer, list });
    if (!list) {
      // An org that says nothing about an allowlist allows its default (usually nothing: deny by default).
      if (layer.layer === 'org' && opts.orgDefault) {
        value = [...opts.orgDefault];
        owner = {
          layer: 'org',
          loc: {
            rule: `data.aibox.org.${door}.${rule} (undefined: default ${JSON.stringify(opts.orgDefault)})`,
          },
        };
      }
      continue;
    }
    if (value !== undefined && owner) {
      for (const v of list.value) {
        if (!value.some((u) => covers(u, v))) {
          conflicts.push({
            key: `${door}.${rule}`,
            value: v,
            loc: list.loc,
            layer: layer.layer,
            against: { layer: owner.layer, loc: owner.loc },
            reason: `${show(v)} is not allowed by layer ${owner.layer}${owner.loc.at ? ` (${owner.loc.at})` : ''}`,
          });
        }
      }
      value = intersect(value, list.value, covers);
    } else {
      value = [...list.value];
    }
    owner = { layer: layer.layer, loc: list.loc };
  }
  return { value, perLayer, conflicts };
}

/** Verdicts from each layer's `deny` set; merged into the per-layer verdicts by `mergeVerdict`. */
export function denyMessages(
  layer: LayerView,
  door: string,
  input: unknown,
): { message: string; loc: Location }[] {
  return layer.denials(door, input);
}

/**
 * Builds a layer's verdict from the checks a door ran: any failure denies (listing every reason), else
 * `allow` when the layer had something to say, else `abstain`.
 */
export function verdictOf(
  layer: LayerName,
  failures: { reason: string; loc: Location }[],
  passes: Location[],
  extra?: { verdict: 'approve'; reason: string; loc: Location },
): LayerVerdict {
  if (failures.length > 0) {
    return {
      layer,
      verdict: 'deny',
      reason: failures.map((f) => f.reason).join('; '),
      rules: failures.map((f) => f.loc),
    };
  }
  if (extra) return { layer, verdict: 'approve', reason: extra.reason, rules: [extra.loc, ...passes] };
  if (passes.length > 0) return { layer, verdict: 'allow', reason: 'allowed by this layer', rules: passes };
  return { layer, verdict: 'abstain', reason: 'no rule for this door in this layer', rules: [] };
}

export function defaultDeny(layer: LayerName, door: string, what: string): { reason: string; loc: Location } {
  return {
    reason: `layer ${layer} defines no ${door}.${what}, so nothing is allowed (deny by default)`,
    loc: { rule: `data.aibox.${layer}.${door}.${what}` },
  };
}
