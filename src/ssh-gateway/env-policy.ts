/**
 * Which environment variables an SSH client may set inside the sandbox. A client-controlled environment is an old
 * escalation path (LD_PRELOAD, BASH_ENV, PATH, proxy variables that route around egress), so only locale and
 * terminal names pass, plus what the operator adds; the hard-deny list wins over both.
 */
const SAFE = ['LANG', 'LANGUAGE', 'LC_*', 'TERM', 'COLORTERM', 'TZ', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION'];

const NEVER = [
  'LD_*',
  'BASH_ENV',
  'ENV',
  'BASH_FUNC_*',
  'PATH',
  'HOME',
  'SHELL',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'PROMPT_COMMAND',
  'IFS',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'NODE_OPTIONS',
  'PERL5OPT',
  'GIT_*',
  'SSH_*',
  '*_PROXY',
  '*_proxy',
];

const MAX_VALUE_LENGTH = 4096;

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith('*')) return name.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export class EnvPolicy {
  private readonly allow: readonly string[];

  constructor(extra: readonly string[] = []) {
    this.allow = [...SAFE, ...extra];
  }

  permits(name: string, value: string): boolean {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return false;
    if (value.length > MAX_VALUE_LENGTH || value.includes('\0')) return false;
    if (NEVER.some((p) => matches(p, name))) return false;
    return this.allow.some((p) => matches(p, name));
  }
}
