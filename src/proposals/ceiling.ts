import type { PolicyDecision } from '../shared/index.js';

/** Where a destination stands against a sandbox's layered policy. */
export type Standing =
  | { kind: 'allowed' }
  /** An org or team layer refuses it: no project change can allow it (tighten-only). */
  | { kind: 'ceiling'; layer: string; reason: string; rule?: string }
  /** Only the project layer refuses it: approving can allow it. */
  | { kind: 'project'; reason: string };

/** Reads an egress decision's per-layer verdicts: the first non-project layer that denies is the ceiling. */
export function standingOf(d: PolicyDecision): Standing {
  if (d.outcome === 'allow') return { kind: 'allowed' };
  const above = d.layers.find((l) => l.layer !== 'project' && l.verdict === 'deny');
  if (above) {
    const at = above.rules.find((r) => r.at)?.at;
    return { kind: 'ceiling', layer: above.layer, reason: above.reason, ...(at ? { rule: at } : {}) };
  }
  // A decision without per-layer verdicts that still denies cannot be told apart: treat it as above the project.
  const project = d.layers.find((l) => l.layer === 'project' && l.verdict === 'deny');
  if (!project) return { kind: 'ceiling', layer: 'policy', reason: d.reason };
  return { kind: 'project', reason: project.reason };
}
