// Gas of VipnodePool's hot paths on an in-process EDR chain (cancun), compared with Uniswap's
// MerkleDistributor, the usual reference for cumulative-free Merkle claims.
//
//   npx tsx bench/contractGas.ts
//
// Figures are transaction gasUsed, i.e. including the 21,000 intrinsic gas and calldata.
import { Contract, dataSlice, getAddress, id, parseEther } from 'ethers'
import type { ContractTransactionReceipt, ContractTransactionResponse, JsonRpcSigner } from 'ethers'
import { deployVipnodePool } from '../contracts/artifacts.ts'
import { devAccounts, ethersOn, startEdrProvider } from '../contracts/edr.ts'
import { buildPayoutTree } from '../contracts/merkle.ts'
import type { PayoutTree } from '../contracts/merkle.ts'

const TREE_SIZES = [10, 1_000, 10_000]
const CLAIMS_PER_TREE = 8
// Uniswap merkle-distributor's published per-claim range (an ERC-20 transfer per claim).
const UNISWAP = { min: 62_824, max: 91_650 }

interface Row { operation: string, payees: string, proofLength: string, gas: bigint[] }

const mined = async (tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> => {
  const receipt = await (await tx).wait()
  if (receipt === null) throw new Error('transaction was not mined')
  return receipt
}

/** Deterministic payee addresses, distinct per tree (`salt`) so every measured claim is a payee's first. */
const payeeAddress = (salt: string, i: number): string => getAddress(dataSlice(id(`${salt}-${i}`), 12))

/** `count` indices spread over [0, n): first, last and evenly between, so proof lengths vary. */
const spread = (n: number, count: number): number[] =>
  [...new Set(Array.from({ length: Math.min(count, n) }, (_, k) => Math.round((k * (n - 1)) / Math.max(1, Math.min(count, n) - 1))))]

async function main(): Promise<void> {
  const chain = await startEdrProvider({ accounts: devAccounts(parseEther('1000000')) })
  const { provider, signers } = ethersOn(chain)
  const [deployer, operator, feeRecipient, depositor, relayer] = signers as [JsonRpcSigner, JsonRpcSigner, JsonRpcSigner, JsonRpcSigner, JsonRpcSigner]
  const pool = await deployVipnodePool(deployer, operator.address, feeRecipient.address)
  const as = (s: JsonRpcSigner): Contract => pool.connect(s) as Contract
  const rows: Row[] = []
  const buildTimes: string[] = []
  const row = (operation: string, payees: string, proofLength: string): Row => {
    const r = { operation, payees, proofLength, gas: [] as bigint[] }
    rows.push(r)
    return r
  }

  // The first deposit writes totalReceived from zero (20,000 more than later ones).
  const deposit = async (i: number): Promise<bigint> => (await mined(as(depositor).deposit(id(`client-${i}`), { value: parseEther('20') }))).gasUsed
  row('deposit (first ever)', '-', '-').gas.push(await deposit(0))
  const depositRow = row('deposit (later)', '-', '-')
  for (let i = 1; i < 6; i++) depositRow.gas.push(await deposit(i))

  let epoch = 0n
  let entitled = 0n
  const post = async (tree: PayoutTree): Promise<bigint> => {
    epoch += 1n
    entitled += tree.totalWei
    return (await mined(as(operator).postRoot(epoch, tree.root, entitled))).gasUsed
  }
  // Epoch 1 writes root, epoch and totalEntitled from zero; later epochs overwrite them.
  const firstPostRow = row('postRoot (epoch 1)', '-', '-')
  const postRow = row('postRoot (later epochs)', '-', '-')

  for (const size of TREE_SIZES) {
    const salt = `bench-${size}`
    const entries = Array.from({ length: size }, (_, i) => ({ payee: payeeAddress(salt, i), cumulativeWei: parseEther('0.0001') + BigInt(i) }))
    const started = performance.now()
    const tree = buildPayoutTree(entries)
    const buildMs = performance.now() - started
    ;(epoch === 0n ? firstPostRow : postRow).gas.push(await post(tree))

    const sample = spread(size, CLAIMS_PER_TREE)
    // Hosts' payout addresses normally exist already; a never-used address costs 25,000 more
    // (new-account surcharge), measured separately below.
    for (const i of sample) await mined(deployer.sendTransaction({ to: entries[i]!.payee, value: 1n }) as Promise<ContractTransactionResponse>)
    const lengths = new Set<number>()
    const claimRow = row('claim (first for payee)', size.toLocaleString('en-US'), '')
    for (const i of sample) {
      const p = tree.proofFor(entries[i]!.payee)
      lengths.add(p.proof.length)
      claimRow.gas.push((await mined(as(relayer).claim(p.payee, p.cumulativeWei, p.proof))).gasUsed)
    }
    claimRow.proofLength = [...lengths].sort((a, b) => a - b).join('–')
    buildTimes.push(`${size.toLocaleString('en-US')} payees: ${buildMs.toFixed(0)} ms`)

    if (size === TREE_SIZES[TREE_SIZES.length - 1]) {
      const fresh = tree.proofFor(entries[size - 2]!.payee)
      row('claim (first, never-used address)', size.toLocaleString('en-US'), String(fresh.proof.length))
        .gas.push((await mined(as(relayer).claim(fresh.payee, fresh.cumulativeWei, fresh.proof))).gasUsed)

      // Next epoch: the same payees earn a little more; the sampled ones claim again.
      const next = buildPayoutTree(entries.map((e) => ({ ...e, cumulativeWei: e.cumulativeWei * 2n })))
      postRow.gas.push(await post(next))
      const again = row('claim (later cumulative, same payee)', size.toLocaleString('en-US'), '')
      const againLengths = new Set<number>()
      for (const i of sample) {
        const p = next.proofFor(entries[i]!.payee)
        againLengths.add(p.proof.length)
        again.gas.push((await mined(as(relayer).claim(p.payee, p.cumulativeWei, p.proof))).gasUsed)
      }
      again.proofLength = [...againLengths].sort((a, b) => a - b).join('–')
    }
  }

  const balance = await provider.getBalance(await pool.getAddress())
  const [received, claimed] = await Promise.all([pool.totalReceived() as Promise<bigint>, pool.totalClaimed() as Promise<bigint>])
  if (balance !== received - claimed) throw new Error(`accounting broke: balance ${balance} != ${received} - ${claimed}`)

  printTable(rows)
  console.log(`\nStandardMerkleTree build time: ${buildTimes.join(', ')}`)
}

function printTable(rows: Row[]): void {
  const fmt = (n: bigint | number): string => n.toLocaleString('en-US')
  const stats = (g: bigint[]): [string, string, string] => {
    const min = g.reduce((a, b) => (b < a ? b : a))
    const max = g.reduce((a, b) => (b > a ? b : a))
    const avg = g.reduce((a, b) => a + b, 0n) / BigInt(g.length)
    return [fmt(min), fmt(avg), fmt(max)]
  }
  const header = ['operation', 'payees', 'proof len', 'n', 'min', 'avg', 'max']
  const body = rows.map((r) => [r.operation, r.payees, r.proofLength, String(r.gas.length), ...stats(r.gas)])
  body.push(['Uniswap MerkleDistributor claim (published)', '-', '-', '-', fmt(UNISWAP.min), '-', fmt(UNISWAP.max)])
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)))
  const line = (cells: string[]): string => `| ${cells.map((x, c) => (c < 3 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join(' | ')} |`
  console.log(line(header))
  console.log(`|${widths.map((w, c) => (c < 3 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`)
  for (const b of body) console.log(line(b))

  console.log(`\nAgainst Uniswap's ${fmt(UNISWAP.min)}–${fmt(UNISWAP.max)} per claim:`)
  for (const r of rows.filter((x) => x.operation.startsWith('claim'))) {
    const [, avg, max] = stats(r.gas).map((x) => BigInt(x.replaceAll(',', '')))
    const verdict = max! < BigInt(UNISWAP.min) ? 'below its minimum'
      : max! < BigInt(UNISWAP.max) ? `below its maximum (avg ${fmt(avg!)} is inside its range)`
      : r.operation.includes('never-used') ? 'NOT below its maximum: the EVM charges 25,000 to create the empty payee account'
      : 'NOT below its maximum'
    console.log(`  ${r.operation}, ${r.payees} payees: max ${fmt(max!)} gas, ${verdict}`)
  }
}

await main()
