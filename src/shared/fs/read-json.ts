import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import type { AiboxError } from '../errors.js';
import { fsErrors } from '../errors.js';

export interface ReadJsonOptions {
  /**
   * Builds the error for a file that is not valid JSON or does not match the schema, from a message that names the
   * file; default: STATE_FILE_INVALID. Lets a module keep its own stable code (SECRET_STORE_CORRUPT, …).
   */
  invalid?: (message: string, file: string) => AiboxError;
}

/**
 * Reads a JSON file and validates it against `schema`; undefined when the file does not exist. Anything else that
 * is wrong (bad JSON, a field of the wrong shape) is an AiboxError naming the file and the first bad field, never a
 * ZodError with a stack. The file is read whole: these are small state files.
 */
export async function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  options: ReadJsonOptions = {},
): Promise<z.infer<S> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const invalid =
    options.invalid ?? ((message: string) => fsErrors.create('STATE_FILE_INVALID', message, { file }));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid(`${file} is not valid JSON`, file);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw invalid(`${file} does not have the expected format${where}: ${issue?.message ?? 'invalid'}`, file);
  }
  return parsed.data;
}
