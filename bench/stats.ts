/** Small helpers shared by the benchmarks: timing, median/p99 and a fixed-width table. */
export interface Summary {
  n: number;
  median: number;
  p99: number;
  min: number;
}

export async function timeIt(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, median: at(0.5), p99: at(0.99), min: sorted[0] ?? NaN };
}

export function printTable(title: string, rows: [string, Summary][]): void {
  console.log(`\n${title}`);
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(
    `${'operation'.padEnd(width)}  ${'n'.padStart(4)}  ${'median'.padStart(9)}  ${'p99'.padStart(9)}  ${'min'.padStart(9)}`,
  );
  for (const [label, s] of rows) {
    console.log(
      `${label.padEnd(width)}  ${String(s.n).padStart(4)}  ${s.median.toFixed(1).padStart(9)}  ${s.p99.toFixed(1).padStart(9)}  ${s.min.toFixed(1).padStart(9)}`,
    );
  }
}
