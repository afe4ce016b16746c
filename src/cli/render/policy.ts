/**
 * Text forms of effective policy values for `aibox policy show`: lists of rules (objects) read as rules, never as
 * "[object Object]".
 */
export function formatPolicyValue(v: unknown): string {
  if (v === undefined || v === null) return '(any)';
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.map(formatItem).join(', ');
  if (typeof v === 'object') return formatObject(v as Record<string, unknown>);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function formatItem(item: unknown): string {
  if (item === null || typeof item !== 'object')
    return typeof item === 'string' ? item : JSON.stringify(item);
  if (Array.isArray(item)) return `[${item.map(formatItem).join(', ')}]`;
  const o = item as Record<string, unknown>;
  // A mount rule: "/home/alice/src (rw)".
  if (typeof o.path === 'string' && Object.keys(o).every((k) => k === 'path' || k === 'mode'))
    return o.mode === undefined ? o.path : `${o.path} (${formatItem(o.mode)})`;
  return formatObject(o);
}

function formatObject(o: Record<string, unknown>): string {
  const parts = Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${k}=${Array.isArray(v) || (v && typeof v === 'object') ? `{${formatPolicyValue(v)}}` : formatItem(v)}`,
    );
  return `{${parts.join(' ')}}`;
}
