const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * `90s`, `10m`, `12h`, `30d`, `1w` → seconds; a bare number is seconds only when `bareSeconds` says so. Undefined for
 * anything else (each caller refuses it with its own code): the one reader of durations typed by people.
 */
export function durationSeconds(text: string, opts: { bareSeconds?: boolean } = {}): number | undefined {
  const m = /^(\d{1,6})([smhdw])?$/.exec(text.trim());
  if (!m || (!m[2] && !opts.bareSeconds)) return undefined;
  const seconds = Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] as number);
  return seconds > 0 ? seconds : undefined;
}
