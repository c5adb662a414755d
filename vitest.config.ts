import { defineConfig } from 'vitest/config'

/**
 * Two projects; `npm test` runs both, `npm run test:unit` / `npm run test:e2e` one.
 * - e2e: tests that spawn processes (bin/vipnode.js, the fake node, ethereumjs,
 *   promtool), drive chromium, or run for seconds (an attack, a fault or a fuzz
 *   campaign, the contract's EVM suite): the scenario folders under test/ and
 *   the files listed below that sit beside the code.
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
  'contracts/VipnodePool.test.ts', // ~11 s of EVM on a quiet machine (a property test over random histories): as long as the rest of unit together
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
      // unit: each worker process keeps its imports (ethers, drizzle, EDR…) loaded from file to file;
      // a fresh process and module graph per file cost three times the tests' own CPU. Each file
      // still cleans up after itself; nothing in these tests mocks modules or globals. Two workers
      // (vitest's default here is cores − 1 = 1) so that one file's timers overlap another's work.
      { extends: true, test: { name: 'unit', include: ['**/*.test.ts'], exclude: E2E, isolate: false, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      // e2e: after unit, each file in a fresh process, vitest's default worker count (1 on 2 cores), as before.
      { extends: true, test: { name: 'e2e', include: E2E, sequence: { groupOrder: 1 } } },
    ],
  },
})
