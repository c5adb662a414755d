/** The relay's cost table from `--relay-cost-table FILE` (format: agent/relay/computeUnits.ts parseCostTable). */
import { readFileSync } from 'node:fs'
import { parseCostTable } from '../../agent/relay/computeUnits.ts'
import { DEFAULT_COST_TABLE, type CostTable } from '../../protocol/costTable.ts'

/** The default table, or the file's entries over it; a missing or bad file throws a RangeError naming it. */
export function loadCostTable(path: string | undefined): CostTable {
  if (path === undefined) return DEFAULT_COST_TABLE
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new RangeError(`--relay-cost-table ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return parseCostTable(text, `--relay-cost-table ${path}`)
}
