/**
 * A tool call's arguments as the audit log keeps them: the keys and the shape, never a value (a path, a file's
 * content or a token passed to a tool must not end up in the log). Bounded in depth and width.
 */
export function redactArguments(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'string') return `<string, ${value.length} chars>`;
  if (typeof value === 'number' || typeof value === 'boolean') return `<${typeof value}>`;
  if (depth >= 3) return Array.isArray(value) ? `<array of ${value.length}>` : '<object>';
  if (Array.isArray(value)) {
    const shown = value.slice(0, 10).map((v) => redactArguments(v, depth + 1));
    return value.length > 10 ? [...shown, `<${value.length - 10} more>`] : shown;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (const k of keys.slice(0, 50))
      out[k.slice(0, 100)] = redactArguments((value as Record<string, unknown>)[k], depth + 1);
    if (keys.length > 50) out['<more keys>'] = keys.length - 50;
    return out;
  }
  return `<${typeof value}>`;
}
