import { egressErrors, newPlaceholder, type CredentialBinding } from '../../egress/index.js';
import type { PlaceholderRule } from '../../egress/policy.js';
import type { CredentialProvider } from '../../credentials/index.js';
import { KeyedMutex } from '../../shared/fs/index.js';
import { messageOf, type Logger } from '../../shared/index.js';
import type { PolicyService } from './policy.js';

/** A binding a pack installed in the sandbox declares (operator-owned: from pack-registry/). */
export interface PackBinding {
  pack: string;
  version: string;
  binding: CredentialBinding;
  /** The pack's egress need toward the binding's host (the egress door must allow it too). */
  port: number;
  required: boolean;
}

/** The packs layer tells which bindings the packs installed in a sandbox declare. */
export type PackBindingSource = (sandboxId: string) => Promise<PackBinding[]>;

/** What became of one binding for one sandbox: given (with its placeholder) or not, and why. */
export interface BindingOutcome {
  key: string;
  source: 'config' | 'pack';
  pack?: string;
  secret: string;
  host: string;
  env: string;
  given: boolean;
  required: boolean;
  /** The credentials door's decision (and the egress door's for a pack binding), for `aibox policy explain`. */
  decisions: string[];
  /** Why it is not given: denied by policy, or the secret cannot be read. */
  reason?: string;
}

/** The bindings in force for a sandbox: the rules Squid renders, the values in the same order, and each outcome. */
export interface SandboxBindings {
  rules: PlaceholderRule[];
  values: { values: string[]; formats: string[]; placeholders: string[] };
  outcomes: BindingOutcome[];
  /** Placeholder variables for later commands (given bindings only). */
  env: Record<string, string>;
  /** Every placeholder handed out to this sandbox so far, by binding key (kept in its egress state). */
  placeholders: Record<string, string>;
}

interface Candidate {
  key: string;
  source: 'config' | 'pack';
  pack?: string;
  binding: CredentialBinding;
  port?: number;
  required: boolean;
}

interface Held {
  /** Placeholder per binding key: kept for the sandbox's life (commands already running hold them). */
  placeholders: Record<string, string>;
  bindings: SandboxBindings;
}

/**
 * Which credential bindings each sandbox gets: the daemon config's (egress.credentials) plus those of the packs
 * installed in it, each decided by the credentials door (and, for a pack's, the egress door toward its host), and
 * the values read from the credentials provider. Recomputed at start, on pack install/uninstall and on policy
 * change; one computation per sandbox at a time, so rules and values always come from the same pass.
 */
export class CredentialBindings {
  private readonly held = new Map<string, Held>();
  /** One computation per sandbox at a time. */
  private readonly lanes = new KeyedMutex();
  private packs: PackBindingSource | undefined;

  constructor(
    private readonly deps: {
      config: readonly CredentialBinding[];
      provider: CredentialProvider | undefined;
      policy: PolicyService;
      logger: Logger;
    },
  ) {}

  /** The packs layer (built after egress) registers where pack bindings come from. */
  setPackSource(source: PackBindingSource): void {
    this.packs = source;
  }

  /** The given bindings' placeholder variables (for every later command). */
  env(sandboxId: string): Record<string, string> {
    return { ...this.held.get(sandboxId)?.bindings.env };
  }

  placeholders(sandboxId: string): Record<string, string> | undefined {
    const held = this.held.get(sandboxId);
    return held ? { ...held.placeholders } : undefined;
  }

  current(sandboxId: string): SandboxBindings | undefined {
    return this.held.get(sandboxId)?.bindings;
  }

  forget(sandboxId: string): void {
    this.held.delete(sandboxId);
  }

  /**
   * Decides every binding for the sandbox and reads the given ones' values, then runs `apply` with the result
   * (under the sandbox's lock, so a concurrent recompute or refresh cannot interleave). `strict` (a start): a
   * config binding whose secret cannot be read fails (as before packs had bindings); otherwise it is skipped.
   */
  recompute<T>(
    sandbox: { id: string; name: string },
    opts: { strict?: boolean; saved?: Record<string, string> },
    apply: (b: SandboxBindings) => Promise<T>,
  ): Promise<T> {
    return this.lanes.run(sandbox.id, async () => {
      const placeholders = { ...opts.saved, ...this.held.get(sandbox.id)?.placeholders };
      const bindings = await this.compute(sandbox, placeholders, opts.strict ?? false);
      const result = await apply(bindings);
      this.held.set(sandbox.id, { placeholders, bindings });
      return result;
    });
  }

  /** Reads the given bindings' values again (Vault leases, rotation); a value that cannot be read keeps the last. */
  refresh<T>(sandboxId: string, apply: (b: SandboxBindings) => Promise<T>): Promise<T | undefined> {
    return this.lanes.run(sandboxId, async () => {
      const held = this.held.get(sandboxId);
      if (!held || held.bindings.rules.length === 0) return undefined;
      const values = [...held.bindings.values.values];
      for (const [i, rule] of held.bindings.rules.entries()) {
        const secret = held.bindings.outcomes.find((o) => o.given && o.key === keyOf(held, rule))?.secret;
        if (secret === undefined || !this.deps.provider) continue;
        try {
          values[i] = (await this.deps.provider.get(secret)).value.reveal();
        } catch (err) {
          this.deps.logger.warn(
            { sandboxId, secret, err: messageOf(err) },
            'cannot refresh an injected credential',
          );
        }
      }
      const bindings = { ...held.bindings, values: { ...held.bindings.values, values } };
      const result = await apply(bindings);
      held.bindings = bindings;
      return result;
    });
  }

  private async compute(
    sandbox: { id: string; name: string },
    placeholders: Record<string, string>,
    strict: boolean,
  ): Promise<SandboxBindings> {
    const candidates: Candidate[] = this.deps.config.map((binding) => ({
      key: `config:${binding.env}`,
      source: 'config',
      binding,
      required: true,
    }));
    for (const p of this.packs ? await this.packs(sandbox.id) : []) {
      candidates.push({
        key: `pack:${p.pack}:${p.binding.env}`,
        source: 'pack',
        pack: p.pack,
        binding: p.binding,
        port: p.port,
        required: p.required,
      });
    }
    const out: SandboxBindings = {
      rules: [],
      values: { values: [], formats: [], placeholders: [] },
      outcomes: [],
      env: {},
      placeholders,
    };
    const envTaken = new Set<string>();
    for (const c of candidates) {
      const b = c.binding;
      const outcome: BindingOutcome = {
        key: c.key,
        source: c.source,
        ...(c.pack ? { pack: c.pack } : {}),
        secret: b.secret,
        host: b.host,
        env: b.env,
        given: false,
        required: c.required,
        decisions: [],
      };
      out.outcomes.push(outcome);
      if (envTaken.has(b.env)) {
        outcome.reason = `${b.env} is already the placeholder of another binding`;
        this.deps.logger.warn(
          { sandbox: sandbox.name, env: b.env },
          'credential binding skipped: variable taken',
        );
        continue;
      }
      const d = await this.deps.policy.decide(
        'credentials',
        { secret: b.secret, host: b.host, env: b.env, source: c.source, ...(c.pack ? { pack: c.pack } : {}) },
        sandbox.name,
      );
      outcome.decisions.push(d.id);
      if (d.outcome === 'deny') {
        outcome.reason = `${d.reason} (decision ${d.id}: aibox policy explain --log-entry ${d.id})`;
        this.deps.logger.info(
          { sandbox: sandbox.name, secret: b.secret, host: b.host, decision: d.id },
          'credential binding not given: the credentials door denies it',
        );
        continue;
      }
      if (c.port !== undefined) {
        const e = await this.deps.policy.decide('egress', { host: b.host, port: c.port }, sandbox.name);
        outcome.decisions.push(e.id);
        if (e.outcome === 'deny') {
          outcome.reason = `egress to ${b.host}:${c.port} is denied: ${e.reason} (decision ${e.id})`;
          continue;
        }
      }
      let value: string;
      try {
        if (!this.deps.provider) throw new Error('no credentials provider is configured');
        value = (await this.deps.provider.get(b.secret)).value.reveal();
      } catch (err) {
        if (strict && c.source === 'config')
          throw egressErrors.create(
            'EGRESS_CREDENTIAL',
            `the secret "${b.secret}" bound to ${b.host} cannot be read: ${messageOf(err)}`,
            { secret: b.secret, host: b.host },
          );
        outcome.reason = `the secret "${b.secret}" cannot be read: ${messageOf(err)}`;
        this.deps.logger.warn(
          { sandbox: sandbox.name, secret: b.secret, host: b.host, pack: c.pack, err: messageOf(err) },
          'credential binding skipped: its secret cannot be read',
        );
        continue;
      }
      const placeholder = (placeholders[c.key] ??= newPlaceholder());
      envTaken.add(b.env);
      outcome.given = true;
      out.rules.push({
        host: b.host,
        ...(b.paths ? { paths: b.paths } : {}),
        header: b.header,
        placeholder,
      });
      out.values.values.push(value);
      out.values.formats.push(b.format);
      out.values.placeholders.push(placeholder);
      out.env[b.env] = placeholder;
    }
    return out;
  }
}

function keyOf(held: Held, rule: PlaceholderRule): string | undefined {
  return Object.entries(held.placeholders).find(([, p]) => p === rule.placeholder)?.[0];
}
