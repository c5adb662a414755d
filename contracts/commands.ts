/** Operator commands for the payout contract: a local dev chain, deploying, and claiming. */
import { Command } from 'commander'
import { writeFileSync } from 'node:fs'
import { JsonRpcProvider, Wallet, formatEther, getAddress } from 'ethers'
import { z } from 'zod'
import { defineOptions, duration, integer, text } from '../lib/cliOptions.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { createLogger } from '../lib/logger.ts'
import { loadOperatorWallet } from '../coordinator/chain/operatorKey.ts'
import { DEV_ROOT_DELAY_S, startDevchain } from './devchain.ts'
import { DEV_CHAIN_IDS, MAX_ROOT_DELAY_S, MIN_ROOT_DELAY_S, deployVipnodePool, vipnodePoolAt, vipnodePoolInterface, type PoolRoles } from './artifacts.ts'

/** One JSON line: easy to read, and to parse from a script. */
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

async function signer(chainRpc: string, keyFile: string, passwordFile: string | undefined): Promise<Wallet> {
  const wallet = await loadOperatorWallet(keyFile, passwordFile, (msg) => process.stderr.write(`warning: ${msg}\n`))
  return wallet.connect(new JsonRpcProvider(chainRpc, undefined, { staticNetwork: true }))
}

/** Whole seconds: the contract counts the root delay in seconds. */
const wholeSeconds = (ms: number) => ms % 1000 === 0
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, { message: 'must be a 0x-prefixed 20-byte address' })

export const devchainOptions = defineOptions(
  z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().default(8545),
      chainId: z.number().int().default(31337),
      blockTime: z.number().int().positive().default(1_000),
      operatorKeyOut: z.string().min(1).optional(),
      rootDelay: z.number().int().refine(wholeSeconds, { message: 'must be whole seconds' }).default(DEV_ROOT_DELAY_S * 1000),
    })
    .strict(),
  {
    host: { flags: '--host <address>', description: 'interface to listen on', parser: text },
    port: { flags: '--port <port>', description: 'JSON-RPC port', parser: integer(0, 65535) },
    chainId: { flags: '--chain-id <id>', description: 'chain id', parser: integer(1, 2 ** 32) },
    blockTime: { flags: '--block-time <duration>', description: 'also mine an empty block this often, so confirmations advance', parser: duration },
    operatorKeyOut: { flags: '--operator-key-out <file>', description: "write the operator's private key here (dev only!) for `coordinator --operator-key`", parser: text },
    rootDelay: { flags: '--root-delay <duration>', description: 'how long a proposed root waits before it can be claimed (the contract allows any delay up to 7d on chain ids 1337/31337)', parser: duration },
  },
)

export function devchainCommand(): Command {
  const command = new Command('devchain').description('run a local chain (in-process EVM) with funded dev accounts and the payout contract deployed, on loopback')
  return devchainOptions.addTo(command).action(async () => {
    const o = devchainOptions.read(command)
    if (devchainOptions.printConfig(command, o)) return
    if (o.rootDelay % 1000 !== 0) throw new Error(`--root-delay must be whole seconds, got ${o.rootDelay} ms`)
    const chain = await startDevchain({ host: o.host, port: o.port, chainId: o.chainId, blockTimeMs: o.blockTime, rootDelaySeconds: o.rootDelay / 1000 })
    if (o.operatorKeyOut) writeFileSync(o.operatorKeyOut, chain.accounts[0]!.privateKey, { mode: 0o600 })
    print({
      url: chain.url,
      chainId: chain.chainId,
      contract: chain.contractAddress,
      proposer: chain.accounts[0]!.address,
      feeRecipient: chain.accounts[1]!.address,
      owner: chain.accounts[8]!.address,
      guardian: chain.accounts[9]!.address,
      rootDelaySeconds: chain.rootDelaySeconds,
      accounts: chain.accounts.map((a) => ({ address: a.address, privateKey: a.privateKey, balanceEth: formatEther(a.balance) })),
      next: `vipnode coordinator --chain-rpc ${chain.url} --contract ${chain.contractAddress} --operator-key ${o.operatorKeyOut ?? '<file with accounts[0].privateKey>'} --confirmations 2`,
    })
    onGracefulShutdown(() => chain.close(), createLogger({ level: 'info' }))
  })
}

/** The deploy's root delay default: one hour on real chains, DEV_ROOT_DELAY_S on dev chain ids. */
const ROOT_DELAY_DEFAULT = `1h (${DEV_ROOT_DELAY_S}s on chain ids ${DEV_CHAIN_IDS.join('/')})`

export const deployOptions = defineOptions(
  z
    .object({
      chainRpc: z.string().min(1),
      operatorKey: z.string().min(1),
      operatorPasswordFile: z.string().min(1).optional(),
      proposer: address.optional(),
      guardian: address.optional(),
      owner: address.optional(),
      rootDelay: z.number().int().optional(),
      feeRecipient: address.optional(),
    })
    .strict(),
  {
    chainRpc: { flags: '--chain-rpc <url>', description: 'JSON-RPC URL of the chain (required)', parser: text },
    operatorKey: { flags: '--operator-key <file>', description: 'JSON keystore (or, on dev chains, a hex key file) that pays for the deployment (required)', parser: text },
    operatorPasswordFile: { flags: '--operator-password-file <file>', description: 'file holding the keystore password (else VIPNODE_OPERATOR_PASSWORD)', parser: text },
    proposer: { flags: '--proposer <0x…>', description: "root proposer, the coordinator's hot key: can only propose roots (default: the deploying key)", parser: text },
    guardian: { flags: '--guardian <0x…>', description: 'cold key or multisig that can revoke a pending root and pause, never move money (required except on dev chains)', parser: text },
    owner: { flags: '--owner <0x…>', description: 'cold key or multisig that appoints proposer and guardian, pauses and unpauses (required except on dev chains)', parser: text },
    rootDelay: {
      flags: '--root-delay <duration>',
      description: `how long a proposed root waits before it can be claimed, during which the guardian can revoke it: 1h to 7d, fixed for life (default: ${ROOT_DELAY_DEFAULT})`,
      parser: duration,
    },
    feeRecipient: { flags: '--fee-recipient <0x…>', description: 'receives the pool fee (default: the proposer)', parser: text },
  },
)

type DeployOptions = z.output<typeof deployOptions.schema>

/**
 * Who gets which role. On a real chain the owner and the guardian are required and must not be the
 * proposer: the proposer's key sits decrypted in the coordinator, and a guardian or owner on the same
 * key would leave one hot key to everyone's money. Dev chains default every role to the deployer.
 */
export function deployRoles(o: DeployOptions, deployer: string, chainId: number): PoolRoles {
  const dev = DEV_CHAIN_IDS.includes(chainId)
  const proposer = getAddress(o.proposer ?? deployer)
  const need = (flag: string, value: string | undefined): string => {
    if (value) return getAddress(value)
    if (dev) return getAddress(deployer)
    throw new Error(`${flag} is required on chain ${chainId}: a cold key or multisig address, not the coordinator's key`)
  }
  const guardian = need('--guardian', o.guardian)
  const owner = need('--owner', o.owner)
  if (!dev) {
    for (const [flag, value] of [['--guardian', guardian], ['--owner', owner]] as const) {
      if (value === proposer) throw new Error(`${flag} ${value} is the proposer, the coordinator's hot key: use a cold key or multisig`)
    }
  }
  const delayMs = o.rootDelay ?? (dev ? DEV_ROOT_DELAY_S * 1000 : MIN_ROOT_DELAY_S * 1000)
  if (delayMs % 1000 !== 0) throw new Error(`--root-delay must be whole seconds, got ${delayMs} ms`)
  const rootDelaySeconds = delayMs / 1000
  const min = dev ? 0 : MIN_ROOT_DELAY_S
  if (rootDelaySeconds < min || rootDelaySeconds > MAX_ROOT_DELAY_S) {
    throw new Error(`--root-delay must be between ${min}s and ${MAX_ROOT_DELAY_S / 86_400} days on chain ${chainId}, got ${rootDelaySeconds}s`)
  }
  return { owner, proposer, guardian, feeRecipient: getAddress(o.feeRecipient ?? proposer), rootDelaySeconds }
}

export function contractCommand(): Command {
  const cmd = new Command('contract').description('manage the payout contract')
  const deploy = cmd.command('deploy').description('deploy VipnodePool: the deploying key becomes the root proposer unless --proposer says otherwise; --guardian and --owner should be cold keys or multisigs')
  deployOptions.addTo(deploy).action(async () => {
    const o = deployOptions.read(deploy)
    if (deployOptions.printConfig(deploy, o)) return
    const wallet = await signer(o.chainRpc, o.operatorKey, o.operatorPasswordFile)
    const chainId = Number((await wallet.provider!.getNetwork()).chainId)
    const roles = deployRoles(o, wallet.address, chainId)
    const pool = await deployVipnodePool(wallet, roles)
    print({ contract: await pool.getAddress(), chainId, ...roles, tx: pool.deploymentTransaction()?.hash })
    wallet.provider?.destroy()
  })
  return cmd
}

/** `vipnode host claim`: fetch this payout address's proof from the coordinator and claim on chain. */
export const claimOptions = defineOptions(
  z
    .object({
      coordinator: z.string().min(1),
      chainRpc: z.string().min(1),
      contract: address,
      payout: address,
      key: z.string().min(1),
      passwordFile: z.string().min(1).optional(),
    })
    .strict(),
  {
    coordinator: { flags: '--coordinator <url>', description: 'the coordinator base URL (required)', parser: text },
    chainRpc: { flags: '--chain-rpc <url>', description: 'JSON-RPC URL of the chain (required)', parser: text },
    contract: { flags: '--contract <0x…>', description: 'the VipnodePool address (required)', parser: text },
    payout: { flags: '--payout <0x…>', description: 'the payout address to claim for (anyone may claim for it; the money goes to it) (required)', parser: text },
    key: { flags: '--key <file>', description: 'JSON keystore (or dev hex key) that pays the gas (required)', parser: text },
    passwordFile: { flags: '--password-file <file>', description: 'file holding the keystore password (else VIPNODE_OPERATOR_PASSWORD)', parser: text },
  },
)

export function claimCommand(): Command {
  const command = new Command('claim').description("claim a payout address's earnings: fetches the proof from the coordinator and sends the claim")
  return claimOptions.addTo(command).action(async () => {
    const o = claimOptions.read(command)
    if (claimOptions.printConfig(command, o)) return
    const res = await fetch(new URL(`/v1/payouts/${o.payout}`, o.coordinator))
    const body = (await res.json()) as { status?: string; cumulativeWei?: string; proof?: string[] | null; epoch?: number; pending?: { claimableAtMs: number } | null; error?: { message: string } }
    if (res.ok && body.status === 'pending' && body.pending) {
      // Proposed but inside the root delay (the guardian may still revoke it): nothing to send yet.
      print({ payout: o.payout, claimedWei: '0', epoch: body.epoch, message: `the root of epoch ${body.epoch} is pending: claimable from ${new Date(body.pending.claimableAtMs).toISOString()}` })
      return
    }
    if (!res.ok || !body.proof || !body.cumulativeWei) throw new Error(`coordinator: ${body.error?.message ?? res.statusText}`)
    const wallet = await signer(o.chainRpc, o.key, o.passwordFile)
    const pool = vipnodePoolAt(o.contract, wallet)
    const already = (await pool.getFunction('claimed')(o.payout)) as bigint
    if (BigInt(body.cumulativeWei) <= already) {
      print({ payout: o.payout, claimedWei: '0', message: `nothing to claim: ${already} wei of ${body.cumulativeWei} already paid` })
      wallet.provider?.destroy()
      return
    }
    try {
      const receipt = await (await pool.getFunction('claim')(o.payout, body.cumulativeWei, body.proof)).wait()
      print({ payout: o.payout, epoch: body.epoch, claimedWei: (BigInt(body.cumulativeWei) - already).toString(), cumulativeWei: body.cumulativeWei, tx: receipt?.hash })
    } catch (err) {
      const data = (err as { data?: string }).data
      const parsed = typeof data === 'string' ? vipnodePoolInterface().parseError(data) : null
      throw new Error(parsed ? `claim reverted: ${parsed.name}(${parsed.args.join(', ')})` : (err as Error).message)
    } finally {
      wallet.provider?.destroy()
    }
  })
}
