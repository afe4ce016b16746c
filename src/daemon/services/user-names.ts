import { readFile, stat } from 'node:fs/promises';

/**
 * uid → user name from the host's /etc/passwd (what a sandbox report shows as its owner), re-read when the file
 * changes. A uid with no entry (or an unreadable file) is shown as `uid N`: never an error in a report.
 */
export class UserNames {
  private names = new Map<number, string>();
  private mtimeMs = -1;

  constructor(private readonly file = '/etc/passwd') {}

  async name(uid: number): Promise<string> {
    await this.refresh();
    return this.names.get(uid) ?? `uid ${uid}`;
  }

  private async refresh(): Promise<void> {
    const mtimeMs = await stat(this.file).then(
      (s) => s.mtimeMs,
      () => -1,
    );
    if (mtimeMs === this.mtimeMs) return;
    const text = await readFile(this.file, 'utf8').catch(() => '');
    const names = new Map<number, string>();
    for (const line of text.split('\n')) {
      const [name, , uid] = line.split(':');
      const n = Number(uid);
      // The first entry of a uid wins, as getpwuid(3) answers.
      if (name && uid && Number.isInteger(n) && n >= 0 && !names.has(n)) names.set(n, name);
    }
    this.names = names;
    this.mtimeMs = mtimeMs;
  }
}
