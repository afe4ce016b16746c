import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { aibox } from './run-cli.js';

/** Runs the generated completion function for a command line, with `aibox list -q` answered by a stub. */
function complete(script: string, words: string[]): string[] {
  const program = `${script}
aibox() { [[ "$*" == *"list -q"* ]] && printf 'alpha\\nbeta\\n'; }
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_aibox; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', program], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('aibox completion bash', () => {
  it('prints a script bash accepts', async () => {
    const run = await aibox(['completion', 'bash']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('complete -F _aibox aibox');
    execFileSync('bash', ['-n'], { input: run.stdout });
  });

  it('completes commands, subcommands, options, sandbox names and option values', async () => {
    const script = (await aibox(['completion', 'bash'])).stdout;
    expect(complete(script, ['aibox', 'pu'])).toEqual(['push']);
    expect(complete(script, ['aibox', 'push', ''])).toEqual([
      'status',
      'show',
      'approve',
      'reject',
      '--help',
    ]);
    expect(complete(script, ['aibox', 'stop', ''])).toEqual(['alpha', 'beta']);
    expect(complete(script, ['aibox', '--json', 'exec', 'b'])).toEqual(['beta']);
    // After the sandbox, exec takes a command: no sandbox names there.
    expect(complete(script, ['aibox', 'exec', 'alpha', ''])).toEqual([]);
    expect(complete(script, ['aibox', 'exec', '--'])).toContain('--workdir');
    expect(complete(script, ['aibox', 'mcp', 'list', '--sandbox', 'a'])).toEqual(['alpha']);
    expect(complete(script, ['aibox', 'task', 'done', ''])).toEqual([]);
  });

  it('refuses a shell it has no script for (exit 2)', async () => {
    const run = await aibox(['completion', 'fish']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('code: CLI_USAGE');
  });
});
