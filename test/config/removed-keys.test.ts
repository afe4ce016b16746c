/**
 * Keys that no longer do anything are refused at load, never silently ignored: an operator's restrictive setting
 * that aiboxd dropped would fail open. Each refusal says where the rules go now.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/config/index.js';

describe('removed daemon config keys', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function load(yaml: string) {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-cfg-'));
    const file = path.join(dir, 'aiboxd.yaml');
    await writeFile(file, yaml);
    return loadDaemonConfig(file, { stateDir: path.join(dir, 'state'), socket: path.join(dir, 'sock') });
  }

  it('refuses llm.defaultPolicy, saying that the policy llm door holds its rules now', async () => {
    const loading = load(
      "llm:\n  defaultPolicy:\n    providers: [anthropic]\n    models: ['claude-haiku-*']\n",
    );
    await expect(loading).rejects.toMatchObject({ code: expect.stringMatching(/^CONFIG_/) });
    await expect(loading).rejects.toThrow(
      /llm\.defaultPolicy is no longer read.*llm door.*aibox\/policy\.yaml.*remove llm\.defaultPolicy/s,
    );
  });

  it('refuses even an empty llm.defaultPolicy (the key itself is the mistake)', async () => {
    await expect(load('llm:\n  defaultPolicy: {}\n')).rejects.toThrow(/llm\.defaultPolicy is no longer read/);
  });

  it('still loads an llm section without it', async () => {
    const config = await load('llm:\n  payloadLogging: metadata\n');
    expect(config.llm.payloadLogging).toBe('metadata');
    expect('defaultPolicy' in config.llm).toBe(false);
  });
});
