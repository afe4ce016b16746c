/**
 * A unified diff of two small texts (a policy file: at most 64 KiB), from the longest common subsequence of their
 * lines, with `context` lines around each change. Empty when they are equal.
 */
export function unifiedDiff(before: string, after: string, file: string, context = 3): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = lineOps(a, b);
  const hunks: string[] = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.op === ' ') {
      i++;
      continue;
    }
    let start = Math.max(0, i - context);
    let end = i;
    // Extend over changes closer than 2×context lines apart.
    for (let j = i; j < ops.length; j++) {
      if (ops[j]!.op !== ' ') end = j;
      else if (j - end > 2 * context) break;
    }
    end = Math.min(ops.length - 1, end + context);
    const slice = ops.slice(start, end + 1);
    const aStart = ops[start]!.a;
    const bStart = ops[start]!.b;
    const aLen = slice.filter((o) => o.op !== '+').length;
    const bLen = slice.filter((o) => o.op !== '-').length;
    hunks.push(
      `@@ -${aLen === 0 ? aStart : aStart + 1},${aLen} +${bLen === 0 ? bStart : bStart + 1},${bLen} @@`,
      ...slice.map((o) => `${o.op}${o.text}`),
    );
    i = end + 1;
    start = i;
  }
  return [`--- a/${file}`, `+++ b/${file}`, ...hunks, ''].join('\n');
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

interface Op {
  op: ' ' | '-' | '+';
  text: string;
  /** Lines of `a` and `b` before this one. */
  a: number;
  b: number;
}

function lineOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the LCS of a[i..] and b[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ op: ' ', text: a[i]!, a: i, b: j });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      // Deletions first, as diff(1) shows a replaced line.
      ops.push({ op: '-', text: a[i]!, a: i, b: j });
      i++;
    } else {
      ops.push({ op: '+', text: b[j]!, a: i, b: j });
      j++;
    }
  }
  return ops;
}
