import { z } from 'zod';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { policyErrors } from './errors.js';
import { globMatches as branchGlobMatches } from '../shared/glob.js';
import { commandName } from './doors/exec.js';
import { HttpRuleSchema } from './doors/egress.js';
import type { LayerView, Located, Location } from './types.js';

/** The project layer's folder and file, relative to the project folder. */
export const PROJECT_POLICY_DIR = 'aibox';
export const PROJECT_POLICY_FILE = `${PROJECT_POLICY_DIR}/policy.yaml`;

const Names = z.array(z.string().min(1));

/**
 * aibox/policy.yaml: data only (no Rego), and it may only narrow the org and team layers. A key left out means
 * "no opinion"; an empty list means "nothing" (e.g. `network: {allow: []}` is no egress at all).
 * `network.allow` is also read directly by the egress layer: keep its shape.
 */
export const ProjectPolicy = z
  .object({
    network: z
      .object({
        // Same shapes the egress module accepts: `host`, `host:443,8443`, or {host, ports, methods}.
        allow: z
          .array(
            z.union([
              z.string().min(1),
              z.looseObject({ host: z.string().min(1), ports: z.array(z.number().int()).optional() }),
            ]),
          )
          .optional()
          .describe('Host names and *.domain patterns this project needs.'),
        ports: z.array(z.number().int().min(1).max(65535)).optional().describe('Destination ports.'),
        tcp: z
          .array(
            z.union([z.string().min(1), z.object({ host: z.string(), port: z.number().int() }).strict()]),
          )
          .optional()
          .describe('Raw TCP destinations `host:port`; each must be in the org/team egress.allow_tcp.'),
        http: z
          .array(HttpRuleSchema)
          .optional()
          .describe(
            'Method/path rules {host, methods, paths}: requests to a host named here must match one of its rules ' +
              '(the host is inspected: TLS terminated at the proxy).',
          ),
      })
      .strict()
      .optional(),
    mounts: z
      .array(z.object({ path: z.string(), mode: z.enum(['ro', 'rw']).default('ro') }).strict())
      .optional()
      .describe('Host paths this project may mount.'),
    commands: z
      .object({
        allow: Names.optional().describe('Only these commands may be sent to the sandbox.'),
        deny: Names.optional().describe('These commands are refused.'),
      })
      .strict()
      .optional(),
    push: z
      .object({
        approve: Names.optional().describe('Branch globs whose pushes need approval.'),
        deny: Names.optional().describe('Branch globs nobody may push to from the sandbox.'),
      })
      .strict()
      .optional(),
    llm: z
      .object({
        providers: Names.optional(),
        models: Names.optional(),
        limits: z.record(z.string(), z.number()).optional(),
      })
      .strict()
      .optional(),
    packs: Names.optional().describe('Tool and MCP packs this project uses.'),
    credentials: z
      .array(z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name'))
      .optional()
      .describe(
        'Placeholder variables of the bindings this project wants (others are not given); never a secret or host.',
      ),
    limits: z.record(z.string(), z.number()).optional().describe('Resource ceilings (cpus, memory_mb, …).'),
  })
  .strict();
export type ProjectPolicy = z.infer<typeof ProjectPolicy>;

/** Door rule -> path in aibox/policy.yaml. */
const STATIC_KEYS: Record<string, (string | number)[]> = {
  'egress.allow_ports': ['network', 'ports'],
  'egress.allow_http': ['network', 'http'],
  'mounts.allow': ['mounts'],
  'exec.allow_commands': ['commands', 'allow'],
  'push.approve': ['push', 'approve'],
  'push.deny': ['push', 'deny'],
  'llm.allowed_providers': ['llm', 'providers'],
  'llm.allowed_models': ['llm', 'models'],
  'llm.limits': ['llm', 'limits'],
  'packs.allowed': ['packs'],
  'credentials.allowed_env': ['credentials'],
  'limits.max': ['limits'],
};

/** A parsed project file: the data plus the line of every key, for errors and explain. */
export class ProjectLayer implements LayerView {
  readonly layer = 'project' as const;

  private constructor(
    readonly policy: ProjectPolicy,
    private readonly file: string,
    private readonly lineOf: (path: (string | number)[]) => number | undefined,
  ) {}

  /** An absent file is an empty layer: the project narrows nothing. */
  static empty(file = PROJECT_POLICY_FILE): ProjectLayer {
    return new ProjectLayer({}, file, () => undefined);
  }

  /** Parses the file's text; throws POLICY_PROJECT_INVALID naming file:line and key. */
  static parse(text: string, file = PROJECT_POLICY_FILE): ProjectLayer {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    const yamlErr = doc.errors[0];
    if (yamlErr) {
      const line = lc.linePos(yamlErr.pos[0]).line;
      throw policyErrors.create(
        'POLICY_PROJECT_INVALID',
        `${file}:${line}: ${yamlErr.message.split('\n')[0]}`,
        {
          file,
          line,
        },
      );
    }
    const lineOf = (path: (string | number)[]): number | undefined => {
      for (let n = path.length; n > 0; n--) {
        const node = doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
      }
      return undefined;
    };
    const raw: unknown = doc.toJS() ?? {};
    if (raw && typeof raw === 'object' && 'team' in raw) {
      // The agent can write this file: letting it pick its team let it pick a looser one.
      const line = lineOf(['team']) ?? 1;
      throw policyErrors.create(
        'POLICY_PROJECT_TEAM',
        `${file}:${line}: team: a project does not choose its team; the org policy does`,
        { file, line, key: 'team' },
      );
    }
    const parsed = ProjectPolicy.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
      const line = lineOf(path) ?? 1;
      const key = path.join('.') || '(top level)';
      throw policyErrors.create('POLICY_PROJECT_INVALID', `${file}:${line}: ${key}: ${issue.message}`, {
        file,
        line,
        key,
      });
    }
    return new ProjectLayer(parsed.data, file, lineOf);
  }

  private loc(path: (string | number)[]): Location {
    const line = this.lineOf(path);
    return { rule: path.join('.'), at: `${this.file}${line !== undefined ? `:${line}` : ''}` };
  }

  static(door: string, rule: string): Located | undefined {
    if (door === 'egress' && (rule === 'allow_domains' || rule === 'allow_tcp')) return this.network(rule);
    const path = STATIC_KEYS[`${door}.${rule}`];
    if (!path) return undefined;
    let v: unknown = this.policy;
    for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    if (v === undefined) return undefined;
    return { value: v, loc: this.loc(path) };
  }

  /** network.allow entries reduced to host patterns; network.tcp to `host:port` strings. */
  private network(rule: 'allow_domains' | 'allow_tcp'): Located | undefined {
    const net = this.policy.network;
    if (rule === 'allow_domains') {
      if (net?.allow === undefined) return undefined;
      const hosts = net.allow.map((e) =>
        typeof e === 'string' ? (/^(.*?)(?::[0-9,]+)?$/.exec(e)?.[1] ?? e) : e.host,
      );
      return { value: hosts, loc: this.loc(['network', 'allow']) };
    }
    if (net?.tcp === undefined) return undefined;
    const tcp = net.tcp.map((e) => (typeof e === 'string' ? e : `${e.host}:${e.port}`));
    return { value: tcp, loc: this.loc(['network', 'tcp']) };
  }

  query(door: string, rule: string, input: unknown): Located | undefined {
    if (door !== 'push' || rule !== 'decision') return undefined;
    const branch = (input as { branch?: string }).branch ?? '';
    const deny = this.policy.push?.deny?.find((g) => branchGlobMatches(g, branch));
    if (deny) return { value: 'deny', loc: this.loc(['push', 'deny']) };
    const approve = this.policy.push?.approve?.find((g) => branchGlobMatches(g, branch));
    if (approve) return { value: 'approve', loc: this.loc(['push', 'approve']) };
    return undefined;
  }

  denials(door: string, input: unknown): { message: string; loc: Location }[] {
    if (door !== 'exec') return [];
    const argv = (input as { argv?: string[] }).argv ?? [];
    const name = commandName(argv[0] ?? '');
    const hit = this.policy.commands?.deny?.includes(name);
    return hit
      ? [
          {
            message: `command ${name} is denied by the project's commands.deny`,
            loc: this.loc(['commands', 'deny']),
          },
        ]
      : [];
  }
}
