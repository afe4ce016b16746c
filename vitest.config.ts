import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests (pure code, run in parallel) and integration tests that start real
// Podman/runsc containers, nftables rulesets, Squid and git. Integration files run one at a time: the
// machines have 2 cores and gVisor sandboxes are not cheap.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
