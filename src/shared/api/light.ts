// Zod-free readers of the answers on the CLI's hot path (`aibox version`, `list`, `exec`): loading zod and the
// schemas costs more than the whole start-up budget of those commands. Each reader accepts exactly what its zod
// schema accepts and returns the same value (defaults applied, unknown keys dropped);
// test/client/light.test.ts holds them to that. Every other answer is read with its zod schema.
import type { ApiErrorBody } from './errors.js';
import type { ExecResult, VersionReport, ExecControlMessage } from './system.js';
import type { Protection, SandboxReport } from './sandboxes.js';

/** A reader: the value in its contract shape, or undefined when it is not one. */
export type Reader<T> = (value: unknown) => T | undefined;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isStrRecord = (v: unknown): v is Record<string, string> => isObj(v) && Object.values(v).every(isStr);
const optional = <T>(v: unknown, is: (x: unknown) => x is T): v is T | undefined => v === undefined || is(v);

function errorOf(v: unknown): ApiErrorBody['error'] | undefined {
  if (!isObj(v) || !isStr(v.code) || !isStr(v.message) || !isStr(v.hint)) return undefined;
  if (!optional(v.details, isObj)) return undefined;
  return {
    code: v.code,
    message: v.message,
    hint: v.hint,
    ...(v.details === undefined ? {} : { details: v.details }),
  };
}

/** The body of every non-2xx answer (ApiErrorBody). */
export const readApiErrorBody: Reader<ApiErrorBody> = (v) => {
  const error = isObj(v) ? errorOf(v.error) : undefined;
  return error ? { error } : undefined;
};

export const readVersionReport: Reader<VersionReport> = (v) =>
  isObj(v) && isStr(v.version) && v.api === 'v1' ? { version: v.version, api: 'v1' } : undefined;

const STATES = new Set(['creating', 'running', 'stopped', 'failed']);
const MODES = new Set(['rootless', 'rootful']);

function protectionOf(v: unknown): Protection | undefined {
  if (!isObj(v) || !isStr(v.layer) || (v.state !== 'on' && v.state !== 'off') || !isStr(v.detail))
    return undefined;
  return { layer: v.layer, state: v.state, detail: v.detail };
}

export const readSandboxReport: Reader<SandboxReport> = (v) => {
  if (!isObj(v)) return undefined;
  const { id, name, path, profile, state, image, runtime, mode, containerId, createdAt, reason } = v;
  if (![id, name, path, profile, image, runtime, createdAt].every(isStr)) return undefined;
  if (!isStr(state) || !STATES.has(state) || !isStr(mode) || !MODES.has(mode)) return undefined;
  if (!optional(containerId, isStr) || !optional(reason, isStr)) return undefined;
  if (!Array.isArray(v.protections) || !optional(v.endpoints, isStrRecord)) return undefined;
  const protections = v.protections.map(protectionOf);
  if (protections.some((p) => p === undefined)) return undefined;
  return {
    id: id as string,
    name: name as string,
    path: path as string,
    profile: profile as string,
    state: state as SandboxReport['state'],
    image: image as string,
    runtime: runtime as string,
    mode: mode as SandboxReport['mode'],
    ...(containerId === undefined ? {} : { containerId }),
    createdAt: createdAt as string,
    ...(reason === undefined ? {} : { reason }),
    protections: protections as Protection[],
    endpoints: { ...(v.endpoints ?? {}) },
    ...(isDevcontainerSummary(v.devcontainer) ? { devcontainer: v.devcontainer } : {}),
    ...(isStr(v.owner) ? { owner: v.owner } : {}),
    ...(Array.isArray(v.services) && v.services.every(isServiceStatus) ? { services: v.services } : {}),
  };
};

const SERVICE_STATES = new Set(['running', 'restarting', 'failed', 'stopped']);

/** One companion service's health in a sandbox report (the CLI prints it). */
function isServiceStatus(v: unknown): v is NonNullable<SandboxReport['services']>[number] {
  return (
    isObj(v) &&
    isStr(v.service) &&
    isStr(v.pack) &&
    typeof v.port === 'number' &&
    isStr(v.state) &&
    SERVICE_STATES.has(v.state) &&
    typeof v.restarts === 'number' &&
    optional(v.lastExitCode, (x) => typeof x === 'number') &&
    optional(v.reason, isStr)
  );
}

/** The create and start answers' devcontainer.json summary: its shape, shallowly (the CLI only prints it). */
function isDevcontainerSummary(v: unknown): v is NonNullable<SandboxReport['devcontainer']> {
  return (
    isObj(v) &&
    isStr(v.file) &&
    [v.keys, v.warnings, v.packs, v.forwardPorts, v.commands].every((a) => Array.isArray(a))
  );
}

/** GET /v1/sandboxes: `{ sandboxes: SandboxReport[] }`. */
export const readSandboxList: Reader<{ sandboxes: SandboxReport[] }> = (v) => {
  if (!isObj(v) || !Array.isArray(v.sandboxes)) return undefined;
  const sandboxes = v.sandboxes.map(readSandboxReport);
  return sandboxes.every((s) => s !== undefined) ? { sandboxes: sandboxes } : undefined;
};

/** DELETE /v1/sandboxes/:name and the other `{ removed: NAME }` answers. */
export const readRemoved: Reader<{ removed: string }> = (v) =>
  isObj(v) && isStr(v.removed) ? { removed: v.removed } : undefined;

export const readExecResult: Reader<ExecResult> = (v) => {
  if (!isObj(v) || !isInt(v.exitCode) || !isStr(v.stdout) || !isStr(v.stderr)) return undefined;
  if (!optional(v.truncated, (x): x is boolean => typeof x === 'boolean')) return undefined;
  const timedOut = v.timedOut === true ? { timedOut: true } : {};
  return {
    exitCode: v.exitCode,
    stdout: v.stdout,
    stderr: v.stderr,
    truncated: v.truncated ?? false,
    ...timedOut,
  };
};

const isSize = (v: unknown): v is number => isInt(v) && v > 0;

/** A text frame of the exec WebSocket (ExecControlMessage). */
export const readExecControl: Reader<ExecControlMessage> = (v) => {
  if (!isObj(v)) return undefined;
  switch (v.type) {
    case 'resize':
      return isSize(v.cols) && isSize(v.rows) ? { type: 'resize', cols: v.cols, rows: v.rows } : undefined;
    case 'stdin-eof':
      return { type: 'stdin-eof' };
    case 'exit':
      if (!isInt(v.exitCode)) return undefined;
      return v.timedOut === true
        ? { type: 'exit', exitCode: v.exitCode, timedOut: true }
        : { type: 'exit', exitCode: v.exitCode };
    case 'error': {
      const e = v.error;
      if (!isObj(e) || !isStr(e.code) || !isStr(e.message) || !isStr(e.hint)) return undefined;
      return { type: 'error', error: { code: e.code, message: e.message, hint: e.hint } };
    }
    default:
      return undefined;
  }
};
