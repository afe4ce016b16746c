import { devcontainerErrors } from './errors.js';
import { mapFeature, mapImage, pickVersion, type PackWant } from './features.js';
import { KNOWN_KEYS, type ParsedDevcontainer } from './parse.js';
import { substitute, type VariableContext } from './variables.js';

/**
 * What aibox does with each key of a devcontainer.json: a pure function from the parsed file to a plan. The plan
 * only asks: packs go through the packs and egress doors, mounts through the mounts door, commands through the exec
 * door, the environment through the same checks as any exec environment. Nothing in it is a host path aibox opens
 * on its own, a policy layer or a credential.
 */
export type KeyStatus = 'honoured' | 'mapped' | 'ignored' | 'unsupported';

export interface KeyReport {
  readonly key: string;
  readonly status: KeyStatus;
  readonly detail: string;
}

export interface PlannedCommand {
  /** Which key (and entry of an object form) it comes from: `postCreateCommand`, `postStartCommand.server`. */
  readonly from: string;
  readonly argv: string[];
}

export interface PlannedMount {
  readonly source: string;
  readonly target: string;
  readonly mode: 'ro' | 'rw';
}

export interface DevcontainerPlan {
  readonly file: string;
  readonly keys: KeyReport[];
  readonly warnings: string[];
  readonly packs: PackWant[];
  readonly env: Record<string, string>;
  /** Run once, after the sandbox's first start (onCreate, updateContent, postCreate, in that order). */
  readonly postCreate: PlannedCommand[];
  /** Run after every start. */
  readonly postStart: PlannedCommand[];
  readonly forwardPorts: number[];
  readonly mounts: PlannedMount[];
}

export interface PlanOptions extends VariableContext {
  /** The sandbox's user inside (the base image's `agent`) and its uid. */
  readonly sandboxUser: string;
  readonly sandboxUid: number;
  /** The pack registry's versions, when known (the daemon knows; an offline check may not). */
  readonly packVersions?: Readonly<Record<string, { default: string; versions: string[] }>>;
}

/** Non-root users of the common dev container images: the sandbox's one user plays their part. */
const MAPPED_USERS = new Set(['vscode', 'node', 'codespace']);
/** Set by aibox's layers (proxies, packs' PATH) or the runtime: a workspace file does not override them. */
const RESERVED_ENV =
  /^(https?_proxy|no_proxy|all_proxy|ftp_proxy|path|home|user|shell|ld_preload|ld_library_path|aibox_.*)$/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ENV = 128;
const MAX_ENV_BYTES = 64 * 1024;
const MAX_COMMANDS = 32;
const MAX_ARGV_BYTES = 64 * 1024;

const IGNORED: Record<string, string> = {
  name: 'shown only',
  initializeCommand: 'would run on the host: aibox never runs workspace commands outside the sandbox',
  postAttachCommand: 'no attach step in aibox: run it yourself with aibox exec',
  waitFor: 'aibox runs the create commands before `aibox start` returns',
  workspaceMount: 'the project is always mounted at /workspace by aibox (idmapped, no-follow)',
  workspaceFolder: 'the workspace is always /workspace',
  runArgs: 'container options come from the sandbox profile, never from a workspace file',
  privileged: 'privileges come from the sandbox profile, never from a workspace file',
  capAdd: 'capabilities come from the sandbox profile, never from a workspace file',
  securityOpt: 'security options come from the sandbox profile, never from a workspace file',
  init: 'the sandbox has its own init (the exec agent)',
  overrideCommand: 'the sandbox has its own first process (the exec agent)',
  shutdownAction: 'the sandbox stops with `aibox stop`',
  updateRemoteUserUID: 'the workspace is idmapped to the sandbox user already',
  userEnvProbe: 'the environment is containerEnv, remoteEnv and the packs',
  hostRequirements: 'limits come from the sandbox profile',
  customizations: 'editor settings: for the IDE, not the sandbox',
  extensions: 'editor settings: for the IDE, not the sandbox',
  settings: 'editor settings: for the IDE, not the sandbox',
  secrets: 'credentials come from `aibox secret` and the credential proxy, never from a workspace file',
  portsAttributes: 'port labels: for the IDE',
  otherPortsAttributes: 'port labels: for the IDE',
  overrideFeatureInstallOrder: 'packs are installed in dependency order',
  context: 'part of build, which is unsupported',
  runServices: 'compose services are unsupported: declare companion services in aibox/services.yaml',
  service: 'compose services are unsupported: declare companion services in aibox/services.yaml',
  dockerComposeFile: 'compose is unsupported: declare companion services in aibox/services.yaml',
};

export function planDevcontainer(
  file: string,
  parsed: ParsedDevcontainer,
  opts: PlanOptions,
): DevcontainerPlan {
  const c = parsed.config;
  const keys: KeyReport[] = [];
  const warnings = [...parsed.warnings];
  const wants: PackWant[] = [];
  const report = (key: string, status: KeyStatus, detail: string) => keys.push({ key, status, detail });
  const sub = (key: string, v: string) => {
    const s = substitute(v, opts);
    warnings.push(...s.warnings.map((w) => `${file}: ${key}: ${w}`));
    return s;
  };

  checkUsers(file, c, opts, report);

  // image / build: mapped to the base image plus packs, or reported unsupported.
  if (typeof c.image === 'string') {
    const m = mapImage(c.image);
    wants.push(...m.packs);
    report('image', m.mapped ? 'mapped' : 'unsupported', m.note);
  } else if (c.image !== undefined) report('image', 'unsupported', 'not a string');
  for (const key of ['build', 'dockerFile', 'dockerfile'] as const) {
    if (c[key] !== undefined)
      report(
        key,
        'unsupported',
        'aibox does not build images from the workspace: sandboxes run the aibox base image (Debian bookworm) plus packs; list the tools as features',
      );
  }

  if (c.features !== undefined) {
    if (!isObject(c.features)) report('features', 'ignored', 'not an object');
    else
      for (const [id, options] of Object.entries(c.features)) {
        const m = mapFeature(id, options);
        wants.push(...m.packs);
        const to = m.packs.map((p) => `${p.name}${p.version ? `@${p.version}` : ''}`).join(', ');
        report(
          `features["${id}"]`,
          m.mapped ? 'mapped' : 'unsupported',
          m.packs.length > 0 ? `pack ${to}${m.note ? ` (${m.note})` : ''}` : (m.note ?? ''),
        );
      }
  }

  const env = planEnv(file, c, report, sub, warnings);
  const postCreate: PlannedCommand[] = [];
  const postStart: PlannedCommand[] = [];
  for (const key of ['onCreateCommand', 'updateContentCommand', 'postCreateCommand'] as const)
    planCommands(key, c[key], postCreate, report, sub);
  planCommands('postStartCommand', c.postStartCommand, postStart, report, sub);
  if (postCreate.length + postStart.length > MAX_COMMANDS)
    throw devcontainerErrors.create(
      'DEVCONTAINER_INVALID',
      `${file}: more than ${MAX_COMMANDS} lifecycle commands`,
      { file },
    );

  const forwardPorts = planPorts(c, report);
  const mounts = planMounts(c, report, sub);

  for (const [key, why] of Object.entries(IGNORED)) if (c[key] !== undefined) report(key, 'ignored', why);
  for (const key of Object.keys(c))
    if (!KNOWN_KEYS.has(key)) report(key, 'ignored', 'not a devcontainer.json key');

  // One want per pack: the first asker's version wins; a later different one is a warning.
  const packs: PackWant[] = [];
  for (const w of wants) {
    const have = packs.find((p) => p.name === w.name);
    const picked = pickVersion(w.version, opts.packVersions?.[w.name]);
    if (picked.warning) warnings.push(`${file}: ${w.from}: ${w.name} ${picked.warning}`);
    if (!have)
      packs.push({ name: w.name, ...(picked.version ? { version: picked.version } : {}), from: w.from });
    else if (picked.version && have.version && have.version !== picked.version)
      warnings.push(
        `${file}: ${w.from} asks ${w.name}@${picked.version}; ${have.from} asked ${have.version} first`,
      );
  }
  return { file, keys, warnings, packs, env, postCreate, postStart, forwardPorts, mounts };
}

function checkUsers(
  file: string,
  c: Record<string, unknown>,
  opts: PlanOptions,
  report: (k: string, s: KeyStatus, d: string) => void,
): void {
  for (const key of ['remoteUser', 'containerUser'] as const) {
    const v = c[key];
    if (v === undefined) continue;
    const user = typeof v === 'string' || typeof v === 'number' ? String(v) : '';
    if (user === opts.sandboxUser || user === String(opts.sandboxUid)) {
      report(key, 'honoured', `commands run as ${opts.sandboxUser} (uid ${opts.sandboxUid})`);
    } else if (MAPPED_USERS.has(user)) {
      report(
        key,
        'mapped',
        `"${user}" is the sandbox's non-root user ${opts.sandboxUser} (uid ${opts.sandboxUid})`,
      );
    } else {
      throw devcontainerErrors.create(
        'DEVCONTAINER_REMOTE_USER',
        `${file}: ${key} "${user}" cannot be honoured: commands in the sandbox run only as its non-root user ${opts.sandboxUser} (uid ${opts.sandboxUid})${user === 'root' || user === '0' ? '; root is never available' : ''}`,
        { file, key, user },
      );
    }
  }
}

function planEnv(
  file: string,
  c: Record<string, unknown>,
  report: (k: string, s: KeyStatus, d: string) => void,
  sub: (key: string, v: string) => { value: string; runtimeRef: boolean },
  warnings: string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  // remoteEnv after containerEnv: it wins, as in VS Code.
  for (const key of ['containerEnv', 'remoteEnv'] as const) {
    const block = c[key];
    if (block === undefined) continue;
    if (!isObject(block)) {
      report(key, 'ignored', 'not an object');
      continue;
    }
    const set: string[] = [];
    for (const [name, raw] of Object.entries(block)) {
      if (raw === null) continue; // remoteEnv null unsets: nothing to set
      if (!ENV_NAME.test(name))
        throw devcontainerErrors.create(
          'DEVCONTAINER_ENV_INVALID',
          `${file}: ${key}: invalid variable name "${name}"`,
          {
            file,
            key,
          },
        );
      if (typeof raw !== 'string')
        throw devcontainerErrors.create(
          'DEVCONTAINER_ENV_INVALID',
          `${file}: ${key}.${name}: the value must be a string`,
          {
            file,
            key,
          },
        );
      if (RESERVED_ENV.test(name)) {
        warnings.push(`${file}: ${key}.${name} ignored: aibox sets ${name} itself`);
        continue;
      }
      const s = sub(`${key}.${name}`, raw);
      if (s.runtimeRef) {
        warnings.push(
          `${file}: ${key}.${name} ignored: \${containerEnv:…} is not known before the sandbox runs`,
        );
        continue;
      }
      if (s.value.includes('\0'))
        throw devcontainerErrors.create('DEVCONTAINER_ENV_INVALID', `${file}: ${key}.${name} contains NUL`, {
          file,
          key,
        });
      env[name] = s.value;
      set.push(name);
    }
    report(key, 'honoured', set.length > 0 ? `sets ${set.join(', ')} in every command` : 'nothing to set');
  }
  const entries = Object.entries(env);
  const size = entries.reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (entries.length > MAX_ENV || size > MAX_ENV_BYTES)
    throw devcontainerErrors.create(
      'DEVCONTAINER_ENV_INVALID',
      `${file}: the environment is too large (${MAX_ENV} variables, ${MAX_ENV_BYTES / 1024} KiB)`,
      { file },
    );
  return env;
}

function planCommands(
  key: string,
  value: unknown,
  into: PlannedCommand[],
  report: (k: string, s: KeyStatus, d: string) => void,
  sub: (key: string, v: string) => { value: string },
): void {
  if (value === undefined) return;
  const one = (from: string, v: unknown): PlannedCommand | undefined => {
    let argv: string[] | undefined;
    if (typeof v === 'string' && v.trim() !== '') argv = ['/bin/sh', '-c', sub(from, v).value];
    else if (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === 'string'))
      argv = v.map((a: string) => sub(from, a).value);
    if (!argv || argv.some((a) => a.includes('\0')) || argv.join('').length > MAX_ARGV_BYTES)
      return undefined;
    return { from, argv };
  };
  const phase = key === 'postStartCommand' ? 'after every start' : 'once, after the first start';
  if (isObject(value)) {
    // The object form runs its commands in parallel in VS Code; here one after the other, in key order.
    const names: string[] = [];
    for (const [name, v] of Object.entries(value)) {
      const cmd = one(`${key}.${name}`, v);
      if (cmd) {
        into.push(cmd);
        names.push(name);
      } else report(`${key}.${name}`, 'ignored', 'not a command (a non-empty string or array of strings)');
    }
    report(
      key,
      'honoured',
      `${names.join(', ')}: through aibox exec (exec door), ${phase}, one after the other`,
    );
    return;
  }
  const cmd = one(key, value);
  if (!cmd) report(key, 'ignored', 'not a command (a non-empty string or array of strings)');
  else {
    into.push(cmd);
    report(key, 'honoured', `through aibox exec (exec door), ${phase}`);
  }
}

function planPorts(
  c: Record<string, unknown>,
  report: (k: string, s: KeyStatus, d: string) => void,
): number[] {
  const ports: number[] = [];
  for (const key of ['forwardPorts', 'appPort'] as const) {
    const raw = c[key];
    if (raw === undefined) continue;
    const list = Array.isArray(raw) ? raw : [raw];
    const skipped: string[] = [];
    for (const p of list) {
      const m = typeof p === 'string' ? /^(?:localhost:|127\.0\.0\.1:)?([0-9]{1,5})$/.exec(p) : null;
      const n = typeof p === 'number' ? p : m ? Number(m[1]) : NaN;
      if (Number.isInteger(n) && n >= 1 && n <= 65535) {
        if (!ports.includes(n)) ports.push(n);
      } else skipped.push(String(p));
    }
    report(
      key,
      key === 'appPort' ? 'mapped' : 'honoured',
      `ssh -L through the aibox SSH gateway (printed by aibox start)${skipped.length ? `; not ports of the sandbox, ignored: ${skipped.join(', ')}` : ''}`,
    );
  }
  return ports;
}

function planMounts(
  c: Record<string, unknown>,
  report: (k: string, s: KeyStatus, d: string) => void,
  sub: (key: string, v: string) => { value: string },
): PlannedMount[] {
  if (c.mounts === undefined) return [];
  if (!Array.isArray(c.mounts)) {
    report('mounts', 'ignored', 'not an array');
    return [];
  }
  const out: PlannedMount[] = [];
  for (const [i, m] of c.mounts.entries()) {
    const key = `mounts[${i}]`;
    const spec = typeof m === 'string' ? parseMountString(m) : isObject(m) ? m : undefined;
    if (!spec) {
      report(key, 'ignored', 'not a mount');
      continue;
    }
    const type = typeof spec.type === 'string' ? spec.type : 'bind';
    const source = typeof spec.source === 'string' ? sub(key, spec.source).value : '';
    const target = typeof spec.target === 'string' ? sub(key, spec.target).value : '';
    if (type !== 'bind') {
      report(key, 'unsupported', `type ${type}: only bind mounts of host paths, decided by the mounts door`);
      continue;
    }
    if (
      !source.startsWith('/') ||
      !target.startsWith('/') ||
      source.includes('\0') ||
      target.includes('\0')
    ) {
      report(key, 'ignored', 'a bind mount needs an absolute source and target');
      continue;
    }
    const readOnly =
      spec.readonly === true || spec.readonly === 'true' || spec.readonly === '' || spec.ro !== undefined;
    out.push({ source, target, mode: readOnly ? 'ro' : 'rw' });
    report(
      key,
      'mapped',
      `${source} → ${target} (${readOnly ? 'ro' : 'rw'}): asked of the mounts door at start`,
    );
  }
  return out;
}

/** "source=/a,target=/b,type=bind,readonly": the docker --mount syntax. */
function parseMountString(s: string): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (k === 'src') out.source = v;
    else if (k === 'dst' || k === 'destination') out.target = v;
    else out[k] = v;
  }
  return typeof out.source === 'string' || typeof out.target === 'string' ? out : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
