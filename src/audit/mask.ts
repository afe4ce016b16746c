/**
 * Defensive value masking. Callers must redact before they append; this is the second line of defence, so a
 * forgotten header or token never reaches the append-only (and therefore un-fixable) log.
 */
export type ValueMasker = (key: string, value: string) => string;

export const MASK = '[redacted]';

const SECRET_KEY =
  /(secret|token|passw(or)?d|passphrase|api[-_]?key|authorization|cookie|credential|private[-_]?key)/i;

// Formats of well-known credentials; matched anywhere inside a string value.
const SECRET_VALUE: readonly RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{16,}/g, // OpenAI / Anthropic style keys
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack
  /\b(hvs|hvb|s)\.[A-Za-z0-9]{24,}/g, // Vault tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
];

/** Masks values under secret-looking keys entirely, and known credential formats anywhere. */
export const defaultMasker: ValueMasker = (key, value) => {
  if (SECRET_KEY.test(key) && value.length > 0) return MASK;
  let out = value;
  for (const re of SECRET_VALUE) out = out.replace(re, MASK);
  return out;
};

/** Applies a masker to every string in a JSON-like value (keys are kept; values under them are masked). */
export function maskDeep(value: unknown, masker: ValueMasker, key = ''): unknown {
  if (typeof value === 'string') return masker(key, value);
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, masker, key));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskDeep(v, masker, k);
    return out;
  }
  return value;
}
