import { tokenErrors } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90m`, `12h`, `30d`, `1w` → seconds (what `aibox token create --expires` takes). */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number) : 0;
  if (!m || seconds <= 0) {
    throw tokenErrors.create('TOKEN_DURATION_INVALID', `"${text.slice(0, 40)}" is not a duration`);
  }
  return seconds;
}
