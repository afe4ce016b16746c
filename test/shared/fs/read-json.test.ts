import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineErrors } from '../../../src/shared/errors.js';
import { readJsonFile } from '../../../src/shared/fs/index.js';

const Doc = z.object({ version: z.literal(1), items: z.array(z.object({ name: z.string() })) });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'aibox-json-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readJsonFile', () => {
  it('returns the validated document, undefined for a missing file', async () => {
    const file = path.join(dir, 'doc.json');
    expect(await readJsonFile(file, Doc)).toBeUndefined();
    await writeFile(file, JSON.stringify({ version: 1, items: [{ name: 'a' }] }));
    expect(await readJsonFile(file, Doc)).toEqual({ version: 1, items: [{ name: 'a' }] });
  });

  it('names the file and the bad field, with a stable code and no ZodError', async () => {
    const file = path.join(dir, 'doc.json');
    await writeFile(file, JSON.stringify({ version: 1, items: [{ name: 3 }] }));
    const err = await readJsonFile(file, Doc).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_FILE_INVALID', status: 500, details: { file } });
    expect((err as Error).message).toContain(`${file} does not have the expected format at items.0.name`);
    await writeFile(file, '{"version": 1, "items": [');
    await expect(readJsonFile(file, Doc)).rejects.toMatchObject({
      code: 'STATE_FILE_INVALID',
      message: `${file} is not valid JSON`,
    });
  });

  it("raises the module's own code when given one", async () => {
    const mine = defineErrors({ MY_STORE_CORRUPT: { status: 500, hint: 'restore the store from a backup' } });
    const file = path.join(dir, 'doc.json');
    await writeFile(file, 'not json');
    await expect(
      readJsonFile(file, Doc, { invalid: (message) => mine.create('MY_STORE_CORRUPT', message) }),
    ).rejects.toMatchObject({ code: 'MY_STORE_CORRUPT', message: `${file} is not valid JSON` });
  });

  it('passes other read errors on (a folder is not a missing file)', async () => {
    await expect(readJsonFile(dir, Doc)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
