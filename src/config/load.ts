import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configErrors } from './errors.js';
import { DaemonConfig } from './schema.js';
import { PROFILE_NAME_PATTERN, ProfileFile, type Profile } from './profile.js';

/** The folder aibox is installed in (holds config/, profiles/, policies/). Same from src/ and dist/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_CONFIG_FILE = path.join(PACKAGE_ROOT, 'config', 'aiboxd.yaml');

export interface ConfigOverrides {
  socket?: string | undefined;
  stateDir?: string | undefined;
}

/**
 * Loads config/aiboxd.yaml, deep-merges the file given with --config over it, then the command-line overrides,
 * and validates the result. Errors name the file and the key.
 */
export async function loadDaemonConfig(
  file?: string,
  overrides: ConfigOverrides = {},
): Promise<DaemonConfig> {
  const base = await readYamlObject(DEFAULT_CONFIG_FILE);
  const user = file ? await readYamlObject(path.resolve(file)) : {};
  const merged = deepMerge(base, user);
  if (overrides.socket) merged.socket = path.resolve(overrides.socket);
  if (overrides.stateDir) merged.stateDir = path.resolve(overrides.stateDir);
  return validate(DaemonConfig, merged, file ?? DEFAULT_CONFIG_FILE);
}

export async function loadProfile(profilesDir: string, name: string): Promise<Profile> {
  const dir = profilesDir || path.join(PACKAGE_ROOT, 'profiles');
  const file = path.join(dir, `${name}.yaml`);
  if (!PROFILE_NAME_PATTERN.test(name) || !existsSync(file)) {
    const known = await listProfiles(dir);
    throw configErrors.create(
      'PROFILE_NOT_FOUND',
      `no profile named "${name}" (known: ${known.join(', ')})`,
      {
        profile: name,
        known,
      },
    );
  }
  const parsed = validate(ProfileFile, await readYamlObject(file), file, 'PROFILE_INVALID');
  const seccompPath = path.resolve(dir, parsed.seccomp);
  if (!existsSync(seccompPath)) {
    throw configErrors.create('PROFILE_INVALID', `${file}: seccomp: no file ${parsed.seccomp}`);
  }
  return { ...parsed, name, seccompPath };
}

export async function listProfiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => []);
  return entries
    .filter((e) => e.endsWith('.yaml'))
    .map((e) => e.slice(0, -'.yaml'.length))
    .sort();
}

async function readYamlObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw configErrors.create('CONFIG_NOT_FOUND', `cannot read ${file}`, { file });
  }
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line;
    throw configErrors.create('CONFIG_INVALID_YAML', `${file}${line ? `:${line}` : ''}: ${first.message}`, {
      file,
    });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw configErrors.create('CONFIG_INVALID', `${file}: the top level must be a mapping`, { file });
  }
  return value as Record<string, unknown>;
}

function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  file: string,
  code: 'CONFIG_INVALID' | 'PROFILE_INVALID' = 'CONFIG_INVALID',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  throw configErrors.create(code, `${file}: ${key}: ${issue?.message ?? 'invalid'}`, {
    file,
    key,
    issues: result.error.issues.map((i) => ({ key: i.path.join('.'), message: i.message })),
  });
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
