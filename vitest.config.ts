import { defineConfig } from 'vitest/config';

// Projects: the dashboard's component tests, fast unit tests (pure code, run in parallel) and integration tests
// that start real Podman/runsc containers, nftables rulesets, Squid, git and Chromium. Integration files run one at
// a time: the machines have 2 cores and gVisor sandboxes are not cheap.
export default defineConfig({
  test: {
    projects: [
      // The dashboard's component tests (jsdom), with their own Vite config.
      'web/vitest.config.ts',
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/reliability/**'],
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
      {
        // Hostile clients, crashes, port races and reload paths against real daemons: one file at a time too.
        test: {
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          // After the integration files, never beside them: two suites of real sandboxes on 2 cores starve both.
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
