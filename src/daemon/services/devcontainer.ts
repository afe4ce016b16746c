import path from 'node:path';
import {
  devcontainerErrors,
  devcontainerPlan,
  readDevcontainer,
  type DevcontainerPlan,
  type PlannedCommand,
} from '../../devcontainer/index.js';
import { AiboxError, type Logger } from '../../shared/index.js';
import type { DevcontainerSummary } from '../../shared/api/sandboxes.js';
import type { PacksService } from './packs.js';
import type { PolicyService } from './policy.js';
import type { SandboxContribution, SandboxHook, SandboxHookContext } from './hooks.js';

/** Where a mount asked by a workspace file may never land: the sandbox's own machinery and system folders. */
const RESERVED_TARGETS = [
  '/workspace',
  '/opt/aibox',
  '/run',
  '/proc',
  '/sys',
  '/dev',
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/var/run',
];
/** A lifecycle command may run this long (an `npm ci`), then its process group is killed. */
const COMMAND_TIMEOUT_MS = 10 * 60_000;
/** The tail of a command's output kept in the answer. */
const OUTPUT_TAIL = 4096;

export interface DevcontainerDeps {
  logger: Logger;
  policy: PolicyService;
  packs: PacksService;
  sandboxUid: number;
}

/** What the create and start routes hand over to run the lifecycle commands (the sandbox service). */
export interface CommandRunner {
  execBuffered(
    name: string,
    options: { cmd: string[]; timeoutMs?: number },
  ): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut?: boolean }>;
}

/**
 * The project's devcontainer.json as a sandbox layer. At every start (prepare) the file is read without following
 * links and planned (src/devcontainer); its packs are installed through the packs and egress doors, its bind mounts
 * asked of the mounts door, its environment checked and set. Nothing is taken on the file's word: a refusal of any
 * door fails the start, naming the file. Once the sandbox is running, the create and start routes call `afterStart`,
 * which runs the lifecycle commands through the exec door as the sandbox user. A sandbox created with
 * `devcontainer: false` is left alone.
 */
export class DevcontainerService implements SandboxHook {
  readonly layer = 'devcontainer';
  /** The plan each running sandbox was started with, by id (what `afterStart` runs and reports). */
  private readonly plans = new Map<string, DevcontainerPlan>();

  constructor(private readonly deps: DevcontainerDeps) {}

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    this.plans.delete(ctx.id);
    if (ctx.ephemeral || ctx.noDevcontainer) return {};
    const source = await readDevcontainer(ctx.path);
    if (!source) return {};
    const plan = devcontainerPlan(source, {
      localWorkspaceFolder: ctx.path,
      containerWorkspaceFolder: '/workspace',
      devcontainerId: ctx.id,
      sandboxUser: 'agent',
      sandboxUid: this.deps.sandboxUid,
      packVersions: Object.fromEntries(
        this.deps.packs.registry
          .list()
          .map((m) => [m.name, { default: m.default, versions: Object.keys(m.versions) }]),
      ),
    });
    for (const w of plan.warnings) ctx.logger.info({ warning: w }, 'devcontainer.json');
    const mounts = await this.decideMounts(ctx, plan);
    await this.installPacks(ctx, plan);
    this.plans.set(ctx.id, plan);
    ctx.logger.info(
      { file: plan.file, packs: plan.packs.map((p) => p.name), env: Object.keys(plan.env) },
      'devcontainer.json applied',
    );
    return { env: plan.env, mounts };
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    this.plans.delete(ctx.id);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.plans.clear();
    return Promise.resolve();
  }

  /**
   * After a create (`created`) or a start: runs postCreate (create only) then postStart commands, each through the
   * exec door like a human's `aibox exec`, one after the other; a command that fails stops the rest of its phase
   * (as in VS Code) but not the sandbox. Undefined when the sandbox was started without a devcontainer.json.
   */
  async afterStart(
    sandbox: { id: string; name: string },
    created: boolean,
    runner: CommandRunner,
  ): Promise<DevcontainerSummary | undefined> {
    const plan = this.plans.get(sandbox.id);
    if (!plan) return undefined;
    const commands: DevcontainerSummary['commands'] = [];
    const phases: [string, PlannedCommand[]][] = [
      ...(created ? [['postCreate', plan.postCreate] as [string, PlannedCommand[]]] : []),
      ['postStart', plan.postStart],
    ];
    for (const [phase, list] of phases) {
      for (const cmd of list) {
        const d = await this.deps.policy.decide('exec', { argv: cmd.argv, via: 'api' }, sandbox.name);
        if (d.outcome === 'deny') {
          commands.push({ from: cmd.from, phase, refused: `${d.reason} (decision ${d.id})` });
          break;
        }
        const r = await runner.execBuffered(sandbox.name, { cmd: cmd.argv, timeoutMs: COMMAND_TIMEOUT_MS });
        const output = `${r.stdout}${r.stderr}`;
        commands.push({
          from: cmd.from,
          phase,
          exitCode: r.exitCode,
          output: output.length > OUTPUT_TAIL ? output.slice(-OUTPUT_TAIL) : output,
          ...(r.timedOut ? { timedOut: true } : {}),
        });
        if (r.exitCode !== 0) break;
      }
    }
    return {
      file: plan.file,
      keys: plan.keys,
      warnings: plan.warnings,
      packs: plan.packs.map((p) => `${p.name}${p.version ? `@${p.version}` : ''}`),
      forwardPorts: plan.forwardPorts,
      commands,
    };
  }

  /** Every bind mount through the mounts door (as a human's request would be); any refusal fails the start. */
  private async decideMounts(
    ctx: SandboxHookContext,
    plan: DevcontainerPlan,
  ): Promise<SandboxContribution['mounts']> {
    const out: NonNullable<SandboxContribution['mounts']> = [];
    for (const m of plan.mounts) {
      const target = path.posix.normalize(m.target);
      if (RESERVED_TARGETS.some((r) => target === r || target.startsWith(`${r}/`)) || target === '/')
        throw devcontainerErrors.create(
          'DEVCONTAINER_INVALID',
          `${plan.file}: mounts: ${target} is reserved by aibox; mount somewhere else (e.g. under /mnt)`,
          { file: plan.file, target },
        );
      // The door decides on the path that is mounted (`..` resolved), never on a spelling of it.
      const source = path.posix.normalize(m.source);
      await this.inFile(plan.file, `mount ${source}`, () =>
        this.deps.policy.authorize('mounts', { source, target, mode: m.mode }, ctx.name),
      );
      // The source is opened without following links and checked against the forbidden host prefixes by the
      // sandbox service (not daemon-owned), like every other extra mount.
      out.push({ source, target, readOnly: m.mode === 'ro' });
    }
    return out;
  }

  /** Each pack through PacksService.install: the packs and egress doors decide, as for `aibox install`. */
  private async installPacks(ctx: SandboxHookContext, plan: DevcontainerPlan): Promise<void> {
    const have = new Set((await this.deps.packs.installed(ctx.id)).map((p) => p.name));
    for (const want of plan.packs) {
      if (have.has(want.name)) continue;
      const ref = want.version ? `${want.name}@${want.version}` : want.name;
      const r = await this.inFile(plan.file, `pack ${ref} (${want.from})`, async () => {
        try {
          return await this.deps.packs.install({ id: ctx.id, name: ctx.name }, ref);
        } catch (err) {
          // Installed meanwhile as another pack's requirement: nothing to do.
          if (err instanceof AiboxError && err.code === 'PACK_ALREADY_INSTALLED') return { installed: [] };
          throw err;
        }
      });
      for (const p of r.installed) have.add(p.name);
    }
  }

  /** A door's refusal names the file and what in it was asked, keeping the door's code and status. */
  private async inFile<T>(file: string, what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof AiboxError)) throw err;
      throw new AiboxError(
        err.code,
        `${file} asks for ${what}, which could not be granted, so the sandbox does not start: ${err.message}`,
        { status: err.status, hint: err.hint },
        { ...err.details, file },
        { cause: err },
      );
    }
  }
}
