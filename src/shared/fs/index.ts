/**
 * The one way aiboxd writes and reads its state files, and serialises work on them:
 * - `writeFileAtomic` / `writeJsonAtomic`: replace a file whole (temp file, explicit mode and owner, fsync, rename,
 *   fsync the folder); `publishFile` / `publishDir` move something another program produced into place durably.
 * - `readJsonFile`: a state file checked against its zod schema; undefined when missing, a stable error naming the
 *   file when damaged.
 * - `KeyedMutex` / `Mutex`: one read-modify-write at a time per key (per file, per sandbox, per name).
 * - `readProjectFile`: a file of a project folder (which the agent can write), read without following links.
 */
export * from './atomic-write.js';
export * from './keyed-mutex.js';
export * from './read-json.js';
export * from './project-file.js';
