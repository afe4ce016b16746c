import { messageOf } from '../shared/index.js';
import type { LayerName, LayerView, Located, Location } from './types.js';

export interface RegoSource {
  /** Path relative to the policy repo, e.g. `org/egress.rego`; used in every location we print. */
  file: string;
  text: string;
  /** Rego version of the module, from its bundle's `.manifest` `rego_version`; otherwise v1 (OPA 1.x). */
  regoVersion?: 'v0' | 'v1';
}

export interface RegoResult {
  value: unknown;
  /** `file:line` of the rule that produced the value, when the engine can say. */
  at?: string;
}

/** What the layers need from a Rego engine; `rego-backend.ts` maps src/rego onto it. */
export interface RegoProgram {
  /** Evaluates `ref` (e.g. `data.aibox.org.egress.allow_domains`) to JSON; undefined when undefined. */
  evaluate(ref: string, input?: unknown): RegoResult | undefined;
  /** Evaluates a partial set rule: each element with the rule body that produced it. */
  evaluateSet(ref: string, input?: unknown): RegoResult[];
}

export interface RegoBackend {
  /** Parses and compiles the modules with the data; throws a POLICY_REGO_ERROR with file:line on bad Rego. */
  compile(modules: readonly RegoSource[], data: Record<string, unknown>): RegoProgram;
}

/**
 * A Rego layer (org or one team) seen through the door contract: rules live in `package aibox.<layer>.<door>`.
 * Static values are evaluated once and cached; per-request rules run a prepared query each time. An evaluation
 * error at request time denies (fail closed) and says which rule failed.
 */
export class RegoLayer implements LayerView {
  private readonly statics = new Map<string, Located | undefined>();

  constructor(
    readonly layer: LayerName,
    /** `aibox.org` or `aibox.team.<team>`. */
    readonly pkg: string,
    private readonly program: RegoProgram,
  ) {}

  ref(door: string, rule: string): string {
    return `data.${this.pkg}.${door}.${rule}`;
  }

  static(door: string, rule: string): Located | undefined {
    const key = `${door}.${rule}`;
    if (this.statics.has(key)) return this.statics.get(key);
    const ref = this.ref(door, rule);
    const got = this.program.evaluate(ref);
    const located = got === undefined ? undefined : { value: got.value, loc: loc(ref, got.at) };
    this.statics.set(key, located);
    return located;
  }

  query(door: string, rule: string, input: unknown): Located | undefined {
    const ref = this.ref(door, rule);
    try {
      const got = this.program.evaluate(ref, input);
      return got === undefined ? undefined : { value: got.value, loc: loc(ref, got.at) };
    } catch (err) {
      return { value: { error: messageOf(err) }, loc: { rule: ref } };
    }
  }

  denials(door: string, input: unknown): { message: string; loc: Location }[] {
    const ref = this.ref(door, 'deny');
    try {
      return this.program.evaluateSet(ref, input).map((r) => ({
        message: typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
        loc: loc(ref, r.at),
      }));
    } catch (err) {
      return [
        { message: `policy error in ${ref}: ${messageOf(err)} (denied: fail closed)`, loc: { rule: ref } },
      ];
    }
  }
}

function loc(rule: string, at: string | undefined): Location {
  return at === undefined ? { rule } : { rule, at };
}
