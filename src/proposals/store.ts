import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { KeyedMutex, readJsonFile, writeJsonAtomic } from '../shared/fs/index.js';
import type { Logger } from '../shared/index.js';
import { messageOf } from '../shared/index.js';
import { proposalErrors } from './errors.js';
import { PROPOSAL_ID_PATTERN, ProposalRecord } from './schema.js';

/**
 * Proposals on disk, one JSON file each under `<stateDir>/proposals/` (0600, written atomically, so a crash leaves
 * the old or the new record whole), all of them in memory once loaded. Every change of one proposal runs under
 * its lock: approving twice at once is one approval and one 409.
 */
export class ProposalStore {
  private readonly records = new Map<string, ProposalRecord>();
  private readonly locks = new KeyedMutex();

  private constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  static async open(stateDir: string, logger: Logger): Promise<ProposalStore> {
    const store = new ProposalStore(path.join(stateDir, 'proposals'), logger);
    await mkdir(store.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(store.dir)) {
      const id = name.replace(/\.json$/, '');
      if (!name.endsWith('.json') || !PROPOSAL_ID_PATTERN.test(id)) continue;
      try {
        const rec = await readJsonFile(path.join(store.dir, name), ProposalRecord);
        if (rec && rec.id === id) store.records.set(id, rec);
      } catch (err) {
        // One damaged record must not cost the others; it stays on disk for a person to look at.
        logger.warn({ file: name, err: messageOf(err) }, 'unreadable proposal record skipped');
      }
    }
    return store;
  }

  list(filter: { sandbox?: string; state?: ProposalRecord['state'] } = {}): ProposalRecord[] {
    return [...this.records.values()]
      .filter((r) => filter.sandbox === undefined || r.sandbox === filter.sandbox)
      .filter((r) => filter.state === undefined || r.state === filter.state)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  get(id: string): ProposalRecord {
    const rec = this.records.get(id);
    if (!rec) throw proposalErrors.create('PROPOSAL_NOT_FOUND', `no proposal ${id}`, { id });
    return rec;
  }

  async create(rec: ProposalRecord): Promise<ProposalRecord> {
    await this.save(rec);
    return rec;
  }

  /** Runs `fn` on the current record under its lock and stores what it returns. */
  async update(
    id: string,
    fn: (current: ProposalRecord) => Promise<ProposalRecord>,
  ): Promise<ProposalRecord> {
    return this.locks.run(id, async () => {
      const next = await fn(this.get(id));
      await this.save(next);
      return next;
    });
  }

  private async save(rec: ProposalRecord): Promise<void> {
    const parsed = ProposalRecord.parse(rec);
    await writeJsonAtomic(path.join(this.dir, `${parsed.id}.json`), parsed, {
      mode: 0o600,
      mkdirMode: 0o700,
    });
    this.records.set(parsed.id, parsed);
    this.logger.debug({ proposal: parsed.id, state: parsed.state }, 'proposal stored');
  }
}
