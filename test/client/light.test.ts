import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ApiErrorBody,
  ExecControlMessage,
  ExecResult,
  RemovedReport,
  SandboxList,
  SandboxReport,
  VersionReport,
  readApiErrorBody,
  readExecControl,
  readExecResult,
  readRemoved,
  readSandboxList,
  readSandboxReport,
  readVersionReport,
} from '../../src/shared/api/index.js';
import type { Reader } from '../../src/shared/api/index.js';

const sandbox = {
  id: 'sbx_1',
  name: 'demo',
  path: '/home/a/p',
  profile: 'default',
  state: 'running',
  image: 'localhost/aibox-base:0.1.0',
  runtime: 'runsc',
  mode: 'rootless',
  createdAt: '2026-01-01T00:00:00Z',
  protections: [{ layer: 'runtime', state: 'on', detail: 'gVisor' }],
  endpoints: { ssh: 'ssh aibox-demo' },
};

/** Each value, then the same value with one field changed, removed or added, so each check is exercised. */
function variants(base: Record<string, unknown>, swaps: Record<string, unknown[]>): unknown[] {
  const out: unknown[] = [base, null, [], 'text', 7, {}, { ...base, extra: 'dropped' }];
  for (const key of Object.keys(base)) {
    const { [key]: _gone, ...without } = base;
    out.push(without);
  }
  for (const [key, values] of Object.entries(swaps)) for (const v of values) out.push({ ...base, [key]: v });
  return out;
}

const WRONG = [undefined, null, 1, 'x', true, [], {}, -1, 1.5, 'running'];

const cases: [string, Reader<unknown>, z.ZodType, unknown[]][] = [
  [
    'ApiErrorBody',
    readApiErrorBody,
    ApiErrorBody,
    [
      ...variants({ error: { code: 'X', message: 'm', hint: 'h' } }, { error: WRONG }),
      { error: { code: 'X', message: 'm', hint: 'h', details: { a: 1 } } },
      { error: { code: 'X', message: 'm', hint: 'h', details: 'no' } },
      { error: { code: 'X', message: 'm', hint: 'h', other: 1 } },
      { error: { code: 1, message: 'm', hint: 'h' } },
    ],
  ],
  [
    'VersionReport',
    readVersionReport,
    VersionReport,
    variants({ version: '1.0.0', api: 'v1' }, { version: WRONG, api: ['v2', ...WRONG] }),
  ],
  [
    'SandboxReport',
    readSandboxReport,
    SandboxReport,
    [
      ...variants(sandbox, {
        state: ['creating', 'stopped', 'failed', 'gone', ...WRONG],
        mode: ['rootful', 'root', ...WRONG],
        containerId: ['abc', ...WRONG],
        reason: ['oom', ...WRONG],
        protections: [
          [],
          [{ layer: 'x', state: 'maybe', detail: 'd' }],
          [{ layer: 'x', state: 'off', detail: 'd', more: 1 }],
          ...WRONG,
        ],
        endpoints: [{}, { a: 1 }, ...WRONG],
        id: WRONG,
        createdAt: WRONG,
      }),
    ],
  ],
  [
    'SandboxList',
    readSandboxList,
    SandboxList,
    [
      { sandboxes: [] },
      { sandboxes: [sandbox, sandbox] },
      { sandboxes: [sandbox, {}] },
      { sandboxes: 'x' },
      {},
      null,
      { sandboxes: [{ ...sandbox, state: 'gone' }] },
    ],
  ],
  ['RemovedReport', readRemoved, RemovedReport, variants({ removed: 'demo' }, { removed: WRONG })],
  [
    'ExecResult',
    readExecResult,
    ExecResult,
    variants(
      { exitCode: 0, stdout: 'a', stderr: '', truncated: true },
      { exitCode: [255, -1, 1.5, ...WRONG], truncated: WRONG },
    ),
  ],
  [
    'ExecControlMessage',
    readExecControl,
    ExecControlMessage,
    [
      { type: 'exit', exitCode: 3 },
      { type: 'exit', exitCode: 1.5 },
      { type: 'exit' },
      { type: 'stdin-eof' },
      { type: 'stdin-eof', more: 1 },
      { type: 'resize', cols: 80, rows: 24 },
      { type: 'resize', cols: 0, rows: 24 },
      { type: 'resize', cols: 80 },
      { type: 'error', error: { code: 'C', message: 'm', hint: 'h', details: 5 } },
      { type: 'error', error: { code: 'C', message: 'm' } },
      { type: 'error' },
      { type: 'start', spec: {} },
      { type: 1 },
      ...WRONG,
    ],
  ],
];

describe('the zod-free readers of the hot-path answers', () => {
  it.each(cases)(
    '%s accepts exactly what its zod schema accepts, and returns the same value',
    (_n, read, schema, values) => {
      expect(values.length).toBeGreaterThan(5);
      let accepted = 0;
      for (const value of values) {
        const parsed = schema.safeParse(value);
        expect(read(value), JSON.stringify(value)).toEqual(parsed.success ? parsed.data : undefined);
        if (parsed.success) accepted++;
      }
      // Both outcomes are exercised.
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(values.length);
    },
  );
});
