import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { isAiboxError } from '../../src/shared/index.js';

/** A workspace and, beside it, an "outside" folder with a file a hostile workspace would like to reach. */
export async function scratch(): Promise<{
  base: string;
  ws: string;
  outside: string;
  done: () => Promise<void>;
}> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'aibox-sessions-'));
  const ws = path.join(base, 'ws');
  const outside = path.join(base, 'outside');
  await mkdir(ws);
  await mkdir(outside);
  return { base, ws, outside, done: () => rm(base, { recursive: true, force: true }) };
}

export async function codeOfRejection(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return isAiboxError(err) ? err.code : `not an AiboxError: ${String(err)}`;
  }
  return undefined;
}

export function codeOfThrow(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isAiboxError(err) ? err.code : `not an AiboxError: ${String(err)}`;
  }
  return undefined;
}

export interface TarItem {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
}

export async function makeTar(items: TarItem[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const item of items) {
    const type = item.type ?? 'file';
    const data = item.data === undefined ? undefined : Buffer.from(item.data);
    const header = {
      name: item.name,
      type,
      ...(item.linkname ? { linkname: item.linkname } : {}),
      ...(item.mode !== undefined ? { mode: item.mode } : {}),
      ...(type === 'file' ? { size: data?.length ?? 0 } : {}),
    };
    if (type === 'file') pack.entry(header, data ?? Buffer.alloc(0));
    else pack.entry(header).end(undefined);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export async function readTar(
  stream: AsyncIterable<Buffer>,
): Promise<Map<string, { type: string; data: Buffer }>> {
  const extract = tar.extract();
  const out = new Map<string, { type: string; data: Buffer }>();
  const feeding = (async () => {
    for await (const chunk of stream)
      if (!extract.write(chunk)) await new Promise<void>((r) => extract.once('drain', () => r()));
    extract.end(undefined);
  })();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry as unknown as AsyncIterable<Buffer>) chunks.push(c);
    out.set(entry.header.name, { type: entry.header.type, data: Buffer.concat(chunks) });
  }
  await feeding;
  return out;
}
