import { z } from 'zod';

/** Layers from the most to the least authoritative. A team layer is named `team:<team>`. */
export type LayerName = 'org' | `team:${string}` | 'project';

/** Where a value came from: a Rego rule (file:line) or a key of aibox/policy.yaml (file:line). */
export const Location = z.object({
  /** The rule reference (`data.aibox.org.egress.allow_domains`) or the YAML key (`network.allow`). */
  rule: z.string(),
  /** `org/egress.rego:12`, `aibox/policy.yaml:4`; absent when the engine could not say. */
  at: z.string().optional(),
});
export type Location = z.infer<typeof Location>;

/** A value a layer defines, with where it was defined. */
export interface Located<T = unknown> {
  value: T;
  loc: Location;
}

export const Outcome = z.enum(['allow', 'approve', 'deny']);
export type Outcome = z.infer<typeof Outcome>;

/** One layer's say on one request. `abstain`: the layer has no rule for this door, so it narrows nothing. */
export const LayerVerdict = z.object({
  layer: z.string(),
  verdict: z.enum(['allow', 'approve', 'deny', 'abstain']),
  /** Why, in one sentence a person or a model can act on. */
  reason: z.string(),
  /** The rules that produced the verdict. */
  rules: z.array(Location).default([]),
});
export type LayerVerdict = z.infer<typeof LayerVerdict>;

/**
 * What a door needs from a layer: its static values (evaluated without input, at load) and per-request rules
 * (evaluated with the request as `input`). The Rego layers and the YAML project layer both implement it.
 */
export interface LayerView {
  readonly layer: LayerName;
  /** `data.aibox.<layer>.<door>.<rule>` evaluated without input; undefined when the layer does not define it. */
  static(door: string, rule: string): Located | undefined;
  /** Per-request rule with `input`; undefined when undefined. */
  query(door: string, rule: string, input: unknown): Located | undefined;
  /** Each message of a `deny` set with the rule body that produced it. */
  denials(door: string, input: unknown): { message: string; loc: Location }[];
}

/** A loosening attempt found at load: a lower layer allowing what a higher one does not. */
export interface Conflict {
  key: string;
  value: unknown;
  loc: Location;
  layer: LayerName;
  /** The higher layer (and its rule) that does not allow the value. */
  against: { layer: LayerName; loc?: Location };
  reason: string;
}

const order: Record<Outcome, number> = { allow: 0, approve: 1, deny: 2 };

/** The strictest of the verdicts that were not abstentions; deny when every layer abstained (deny by default). */
export function combine(verdicts: readonly LayerVerdict[]): Outcome {
  let out: Outcome | undefined;
  for (const v of verdicts) {
    if (v.verdict === 'abstain') continue;
    if (out === undefined || order[v.verdict] > order[out]) out = v.verdict;
  }
  return out ?? 'deny';
}
