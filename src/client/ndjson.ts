import type { Readable } from 'node:stream';

/** Yields one parsed value per non-empty line of a newline-delimited JSON stream; a malformed line yields an Error. */
export async function* readNdjson(stream: Readable): AsyncGenerator<unknown> {
  let pending = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    pending += chunk as string;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line.length > 0) yield parseLine(line);
      newline = pending.indexOf('\n');
    }
  }
  const last = pending.trim();
  if (last.length > 0) yield parseLine(last);
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return new Error(`not JSON: ${line.slice(0, 80)}`);
  }
}
