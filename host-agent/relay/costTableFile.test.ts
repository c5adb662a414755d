import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_COST_TABLE } from '../../protocol/costTable.ts'
import { scratchDir } from '../../test/harness/scratch.ts'
import { loadCostTable } from './costTableFile.ts'

describe('--relay-cost-table', () => {
  it('default: no file is the default table; a file overrides its entries', () => {
    expect(loadCostTable(undefined)).toBe(DEFAULT_COST_TABLE)
    const file = join(scratchDir('costs'), 'costs.json')
    writeFileSync(file, '{"eth_getProof": 40, "getLogsPerBlock": 2}')
    const t = loadCostTable(file)
    expect([t.methods.eth_getProof, t.getLogsPerBlock, t.methods.eth_call]).toEqual([40, 2, 20])
  })

  it('error: a missing or malformed file names the flag and the file', () => {
    const dir = scratchDir('costs')
    expect(() => loadCostTable(join(dir, 'nope.json'))).toThrow(`--relay-cost-table ${join(dir, 'nope.json')}: cannot read it (ENOENT)`)
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{"eth_call": "cheap"}')
    expect(() => loadCostTable(bad)).toThrow(`--relay-cost-table ${bad}: "eth_call" must be a whole number of compute units from 0 to 1000000, got "cheap"`)
  })
})
