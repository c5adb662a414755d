import { defineConfig } from 'vitest/config'

// Unit tests sit beside the code; cross-process tests live in test/e2e.
// No retries: a flaky test is a bug to fix, not to hide.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    retry: 0,
    pool: 'forks',
    // The JSON report feeds .ci/run's plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
})
