import type { CommandSpec, GroupSpec } from '../spec.js';

export const POLICY_GROUPS: readonly GroupSpec[] = [
  { name: 'policy', description: 'policy: evaluate, test, show and explain' },
  { name: 'audit', description: 'the append-only, hash-chained audit log' },
  { name: 'egress', description: "egress: learn what a sandbox's agent needs" },
];

/** Policy (offline tools and the daemon's view) and the audit log. */
export const POLICY_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'policy eval',
    description: 'evaluate a Rego query offline, like `opa eval` (exit 1 on error)',
    args: [['<query>', 'Rego query, e.g. data.aibox.egress.allow']],
    options: [
      {
        flags: '-d, --data <path>',
        description: '.rego, .json or .yaml file or directory (repeatable)',
        repeatable: true,
        complete: 'file',
      },
      { flags: '-i, --input <file>', description: 'input document (JSON or YAML)', complete: 'file' },
      {
        flags: '-f, --format <format>',
        description: 'output format',
        choices: ['json', 'pretty'],
        default: 'json',
      },
      { flags: '--strict-builtin-errors', description: 'treat built-in function errors as fatal' },
      { flags: '--v0-compatible', description: 'parse policies as Rego v0 (like opa eval --v0-compatible)' },
      { flags: '--fail', description: 'exit 1 if the query result is undefined' },
      { flags: '--fail-defined', description: 'exit 1 if the query result is defined' },
    ],
    run: () => import('../commands/policy-eval.js').then((m) => m.policyEval),
  },
  {
    name: 'policy test',
    description: 'run Rego unit tests (rules named test_*), like `opa test` (exit 1 if any fails)',
    args: [
      [
        '<paths...>',
        '.rego/.json/.yaml files or directories holding policies and their test_* rules',
        'file',
      ],
    ],
    options: [
      {
        flags: '-v, --verbose',
        description: 'list every test (and every case of a partial-object test) with its result',
      },
      {
        flags: '-r, --run <regex>',
        description: 'run only tests whose full name (data.pkg.test_x) matches this RE2 expression',
      },
      {
        flags: '-f, --format <format>',
        description: 'output format',
        choices: ['pretty', 'json'],
        default: 'pretty',
      },
      {
        flags: '-c, --coverage',
        description: 'print a coverage report (JSON, opa test --coverage shape; rule-level)',
      },
      {
        flags: '--threshold <percent>',
        description: 'with --coverage: fail when coverage is below this percentage',
      },
      { flags: '-t, --timeout <seconds>', description: 'per-test timeout in seconds (default 5)' },
      {
        flags: '--v0-compatible',
        description: 'parse the policies as Rego v0 (deny[msg] { ... }, future.keywords imports)',
      },
    ],
    run: () => import('../commands/policy-test.js').then((m) => m.policyTest),
  },
  {
    name: 'policy show',
    description: 'print the effective policy per door, the layers it comes from and any pending load error',
    options: [
      {
        flags: '-s, --sandbox <name>',
        description: "a sandbox's effective policy (org + team + its project file)",
        complete: 'sandbox',
      },
    ],
    run: () => import('../commands/policy-show.js').then((m) => m.policyShow),
  },
  {
    name: 'policy explain',
    description: 'say which layer and rule decided a request, with the effective value',
    options: [
      {
        flags: '--log-entry <id>',
        description: 'decision id (dec_…) from a 403 body, an error or `aibox audit tail`',
        required: true,
      },
    ],
    run: () => import('../commands/policy-explain.js').then((m) => m.policyExplain),
  },
  {
    name: 'policy proposals',
    description:
      'list the policy changes agents proposed; `approve ID` writes one into aibox/policy.yaml, `reject ID --reason R`',
    args: [
      ['[action]', 'approve or reject (none: list)'],
      ['[id]', 'the proposal id (prp_…)'],
    ],
    options: [
      { flags: '-s, --sandbox <name>', description: 'only this sandbox', complete: 'sandbox' },
      { flags: '-a, --all', description: 'also the approved, rejected and already allowed ones' },
      { flags: '-r, --reason <text>', description: 'why it is rejected (the agent reads it back)' },
    ],
    run: () => import('../commands/policy-proposals.js').then((m) => m.policyProposals),
  },
  {
    name: 'egress learn',
    description:
      "let a sandbox's egress through and record it for a while, then print a proposed aibox/policy.yaml diff",
    args: [['<sandbox>', 'the running sandbox', 'sandbox']],
    options: [{ flags: '--for <duration>', description: 'how long: 90s, 10m, 1h', default: '10m' }],
    run: () => import('../commands/egress-learn.js').then((m) => m.egressLearn),
  },
  {
    name: 'audit tail',
    description: 'print the latest audit records, oldest first',
    options: [
      { flags: '-s, --sandbox <name>', description: 'only this sandbox', complete: 'sandbox' },
      {
        flags: '-k, --kind <kind>',
        description: 'only this kind: decision, exec, push, llm-call, ssh, sandbox, policy, …',
      },
      { flags: '-n, --limit <n>', description: 'how many records', default: '50' },
    ],
    run: () => import('../commands/audit.js').then((m) => m.tail),
  },
  {
    name: 'audit verify',
    description: 're-check every record hash and link of the chain; exit 1 at the first bad record',
    run: () => import('../commands/audit.js').then((m) => m.verify),
  },
  {
    name: 'audit export',
    description: "write one JSON bundle of a sandbox's session: decisions, commands, pushes, LLM calls",
    options: [
      {
        flags: '-s, --sandbox <name>',
        description: 'the sandbox whose session to export',
        required: true,
        complete: 'sandbox',
      },
      {
        flags: '-o, --output <file>',
        description: 'write the bundle here instead of stdout',
        complete: 'file',
      },
    ],
    run: () => import('../commands/audit.js').then((m) => m.exportSession),
  },
];
