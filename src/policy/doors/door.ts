import type { z } from 'zod';
import type { Conflict, LayerVerdict, LayerView } from '../types.js';

/**
 * A door: one enforcement point with a typed request, the effective static policy that enforcement renders from
 * (e.g. the egress allowlist), and a per-layer verdict on a single request.
 */
export interface Door<Req = unknown, Eff = unknown> {
  readonly name: string;
  /** One line for `aibox policy show` and docs. */
  readonly summary: string;
  /** Said with every decision of this door (e.g. that it is advisory, not a boundary). */
  readonly note?: string;
  readonly request: z.ZodType<Req>;
  effective(layers: readonly LayerView[]): { value: Eff; conflicts: Conflict[] };
  verdicts(request: Req, layers: readonly LayerView[]): LayerVerdict[];
}
