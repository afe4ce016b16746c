import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { isAiboxError, messageOf } from '../shared/errors.js';
import { sessionErrors } from './errors.js';
import { displayPath } from './paths.js';
import type { ByteBudget, WorkspaceFs } from './workspace-fs.js';

export interface TarCaps {
  /** Entries one tar may hold. */
  maxEntries: number;
}

export interface TarReport {
  files: number;
  directories: number;
  bytes: number;
}

/**
 * Extracts an uncompressed tar stream into the folder `dest` of a workspace, all or nothing: the entries go to a
 * staging folder at the workspace's top (same file system) and are moved into `dest` (WorkspaceFs.moveInto) only
 * once the whole stream was read and accepted; a refused or broken stream removes the staging folder and leaves
 * `dest` as it was. Only regular files and folders with relative names and no ".." are accepted; a link, device,
 * FIFO or bad name is SESSION_TAR_ENTRY_REFUSED. No link is followed; files are capped one by one and together.
 */
export async function extractTar(
  source: AsyncIterable<Buffer> | Readable,
  fs: WorkspaceFs,
  dest: readonly string[],
  caps: TarCaps,
  budget: ByteBudget,
): Promise<TarReport> {
  // A destination that is a link or a file is refused before anything is read.
  await fs
    .openDir(dest)
    .then((dir) => dir.close())
    .catch((err: unknown) => {
      if (!(isAiboxError(err) && err.code === 'SESSION_PATH_NOT_FOUND')) throw err;
    });
  const staging = [`${STAGING_PREFIX}${randomBytes(6).toString('hex')}`];
  await fs.mkdirs(staging);
  try {
    const report = await extractInto(source, fs, staging, caps, budget);
    await fs.moveInto(staging, dest);
    return report;
  } finally {
    await fs.remove(staging, true).catch(() => undefined);
  }
}

/** Names of the staging folders tar uploads use at the top of a workspace while they run. */
export const STAGING_PREFIX = '.aibox-tar-';

async function extractInto(
  source: AsyncIterable<Buffer> | Readable,
  fs: WorkspaceFs,
  dest: readonly string[],
  caps: TarCaps,
  budget: ByteBudget,
): Promise<TarReport> {
  const report: TarReport = { files: 0, directories: 0, bytes: 0 };
  const extract = tar.extract();
  const input = source instanceof Readable ? source : Readable.from(source);
  const feeding = pipeline(input, extract).catch((err: unknown) => {
    extract.destroy(err as Error);
  });
  let entries = 0;
  try {
    for await (const entry of extract) {
      const { header } = entry;
      if (++entries > caps.maxEntries) {
        throw sessionErrors.create('SESSION_TAR_ENTRY_REFUSED', `more than ${caps.maxEntries} entries`);
      }
      const segments = [...dest, ...entrySegments(header.name)];
      if (header.type === 'directory') {
        entry.resume();
        if (segments.length > dest.length) await fs.mkdirs(segments);
        report.directories++;
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        if (segments.length === dest.length)
          throw refused(header.name, 'a file cannot replace the target folder');
        report.bytes += await fs.writeFile(segments, entry as unknown as AsyncIterable<Buffer>, {
          mode: header.mode,
          budget,
        });
        report.files++;
      } else {
        throw refused(
          header.name,
          `a ${header.type ?? 'unknown'} entry (only files and folders are extracted)`,
        );
      }
    }
  } catch (err) {
    input.destroy();
    extract.destroy(null);
    if (isAiboxError(err)) throw err;
    throw sessionErrors.create('SESSION_TAR_INVALID', `not a readable tar stream: ${messageOf(err)}`);
  }
  await feeding;
  return report;
}

/**
 * A tar of the folder `from` (names relative to it): regular files and folders; links and special files skipped.
 * A bad folder is refused before the stream exists (so a route can still answer with an error status).
 */
export async function packTar(fs: WorkspaceFs, from: readonly string[]): Promise<Readable> {
  await (await fs.openDir(from)).close();
  const pack = tar.pack();
  const out = Readable.from(pack);
  const fill = async () => {
    for await (const entry of fs.walk(from)) {
      const name = entry.segments.slice(from.length).join('/');
      if (entry.type === 'dir') {
        pack.entry({ name: `${name}/`, type: 'directory', mode: entry.mode, mtime: entry.mtime });
        continue;
      }
      const fh = await fs.openFile(entry.segments).catch((err: unknown) => {
        if (isAiboxError(err) && err.code === 'SESSION_PATH_NOT_FOUND') return undefined; // removed meanwhile
        throw err;
      });
      if (!fh) continue;
      try {
        // The size as opened, not as walked: the tar header and the bytes that follow must agree.
        const size = (await fh.stat()).size;
        const header = { name, type: 'file' as const, size, mode: entry.mode, mtime: entry.mtime };
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          const copy = async () => {
            if (size > 0) {
              for await (const chunk of fh.createReadStream({ start: 0, end: size - 1, autoClose: false })) {
                if (!sink.write(chunk as Buffer))
                  await new Promise<void>((r) => sink.once('drain', () => r()));
              }
            }
            sink.end(undefined);
          };
          copy().catch((err: unknown) => {
            const error = err instanceof Error ? err : new Error(String(err));
            sink.destroy(error);
            reject(error);
          });
        });
      } finally {
        await fh.close();
      }
    }
    pack.finalize();
  };
  fill().catch((err: unknown) => {
    out.destroy(err instanceof Error ? err : new Error(String(err)));
    pack.destroy(null);
  });
  return out;
}

/** A tar entry's name as segments: relative, no "..", no control characters; "./" prefixes and trailing "/" dropped. */
export function entrySegments(name: string): string[] {
  if (name.startsWith('/')) throw refused(name, 'an absolute name');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw refused(name, 'a control character in the name');
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw refused(name, '".." in the name');
  if (segments.some((s) => Buffer.byteLength(s) > 255)) throw refused(name, 'a name longer than 255 bytes');
  return segments;
}

function refused(name: string, why: string) {
  return sessionErrors.create(
    'SESSION_TAR_ENTRY_REFUSED',
    `tar entry ${JSON.stringify(name.slice(0, 200))}: ${why}`,
    { entry: displayPath(name.split('/').slice(0, 64)) },
  );
}
