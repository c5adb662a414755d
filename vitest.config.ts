import { defineConfig } from 'vitest/config'

/**
 * Two projects; `npm test` runs both, `npm run test:unit` / `npm run test:e2e` one.
 * - e2e: tests that spawn processes (bin/vipnode.js, the fake node, ethereumjs,
 *   promtool), drive chromium, or play an attack, a fault or a fuzz campaign
 *   for seconds: the scenario folders under test/ and the browser and promtool
 *   tests beside the dashboard and join page.
 * - unit: everything else, in-process and fast: the tests beside the code and
 *   test/architecture.test.ts.
 * A new test beside the code is a unit test unless it is listed here.
 */
const E2E = [
  'test/e2e/**/*.test.ts',
  'test/adversary/**/*.test.ts',
  'test/fault/**/*.test.ts',
  'test/fuzz/**/*.test.ts',
  'test/fakenode/**/*.test.ts',
  'coordinator/dashboard/dashboard.test.ts', // chromium
  'coordinator/dashboard/promtool.test.ts', // spawns promtool
  'coordinator/join/join.test.ts', // chromium on the EDR dev chain
]

// No retries: a flaky test is a bug to fix, not to hide.
// include/exclude live in the projects only: arrays merge, so a root include would add to each project's.
export default defineConfig({
  test: {
    exclude: ['node_modules/**', 'data/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    retry: 0,
    pool: 'forks',
    // The JSON report feeds .ci/run's plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['**/*.test.ts'], exclude: E2E } },
      { extends: true, test: { name: 'e2e', include: E2E } },
    ],
  },
})
