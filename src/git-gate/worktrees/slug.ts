/**
 * A branch- and folder-safe slug from a task description: "Feature 123: implement user auth!" ->
 * "feature-123-implement-user-auth". Lower-case ASCII letters, digits and single dashes, at most `max` characters,
 * cut at a word boundary when possible. Returns '' when nothing usable is left.
 */
export function slugify(description: string, max = 48): string {
  const words = description
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let out = '';
  for (const w of words) {
    const next = out ? `${out}-${w}` : w;
    if (next.length > max) {
      if (!out) out = w.slice(0, max);
      break;
    }
    out = next;
  }
  return out;
}
