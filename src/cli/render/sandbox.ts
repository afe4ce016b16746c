import type { SandboxReport } from '../../shared/index.js';
import { renderTable } from './table.js';

/** The human view of one sandbox: where it runs and the protections in force (as the daemon reports them). */
export function renderSandbox(sb: SandboxReport): string {
  const lines = [
    `sandbox ${sb.name} (${sb.id}) ${sb.state}`,
    `  workspace  ${sb.path} -> /workspace`,
    `  profile    ${sb.profile}`,
    `  image      ${sb.image}`,
    `  runtime    ${sb.runtime} (${sb.mode})`,
  ];
  for (const [name, address] of Object.entries(sb.endpoints)) lines.push(`  ${name.padEnd(10)} ${address}`);
  for (const c of sb.services ?? []) {
    const exit = c.lastExitCode === undefined ? '' : `, last exit ${c.lastExitCode}`;
    lines.push(
      `  service ${c.service}: ${c.state} (restarts ${c.restarts}${exit})${c.reason ? ` — ${c.reason}` : ''}`,
    );
  }
  lines.push('protections:');
  if (sb.protections.length === 0) lines.push('  (none reported by the daemon)');
  const width = Math.max(0, ...sb.protections.map((p) => p.layer.length));
  for (const p of sb.protections) {
    lines.push(
      `  ${p.state === 'on' ? '✓' : '✗'} ${p.layer.padEnd(width)}  ${p.state === 'on' ? '' : 'OFF: '}${p.detail}`,
    );
  }
  return lines.join('\n');
}

export function renderSandboxTable(sandboxes: readonly SandboxReport[]): string {
  return renderTable(
    ['NAME', 'STATE', 'PROFILE', 'RUNTIME', 'CREATED', 'PATH'],
    sandboxes.map((s) => [s.name, s.state, s.profile, `${s.runtime}/${s.mode}`, s.createdAt, s.path]),
  );
}
