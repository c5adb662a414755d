/** Operator commands for the payout contract: a local dev chain, deploying, and claiming. */
import { Command } from 'commander'
import { writeFileSync } from 'node:fs'
import { JsonRpcProvider, Wallet, formatEther } from 'ethers'
import { opt, parseDurationArg, parseIntArg } from '../lib/cli.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { createLogger } from '../lib/logger.ts'
import { loadOperatorWallet } from '../coordinator/chain/operatorKey.ts'
import { startDevchain } from './devchain.ts'
import { deployVipnodePool, vipnodePoolAt, vipnodePoolInterface } from './artifacts.ts'

/** One JSON line: easy to read, and to parse from a script. */
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

async function signer(chainRpc: string, keyFile: string, passwordFile: string | undefined): Promise<Wallet> {
  const wallet = await loadOperatorWallet(keyFile, passwordFile, (msg) => process.stderr.write(`warning: ${msg}\n`))
  return wallet.connect(new JsonRpcProvider(chainRpc, undefined, { staticNetwork: true }))
}

export function devchainCommand(): Command {
  return new Command('devchain')
    .description('run a local chain (in-process EVM) with funded dev accounts and the payout contract deployed, on loopback')
    .addOption(opt('--host <address>', 'interface to listen on').default('127.0.0.1'))
    .addOption(opt('--port <port>', 'JSON-RPC port').argParser(parseIntArg(0, 65535)).default(8545))
    .addOption(opt('--chain-id <id>', 'chain id').argParser(parseIntArg(1, 2 ** 32)).default(31337))
    .addOption(opt('--block-time <duration>', 'also mine an empty block this often, so confirmations advance').argParser(parseDurationArg).default(1_000, '1s'))
    .addOption(opt('--operator-key-out <file>', "write the operator's private key here (dev only!) for `coordinator --operator-key`"))
    .action(async (o: { host: string; port: number; chainId: number; blockTime: number; operatorKeyOut?: string }) => {
      const chain = await startDevchain({ host: o.host, port: o.port, chainId: o.chainId, blockTimeMs: o.blockTime })
      if (o.operatorKeyOut) writeFileSync(o.operatorKeyOut, chain.accounts[0]!.privateKey, { mode: 0o600 })
      print({
        url: chain.url,
        chainId: chain.chainId,
        contract: chain.contractAddress,
        operator: new Wallet(chain.accounts[0]!.privateKey).address,
        feeRecipient: new Wallet(chain.accounts[1]!.privateKey).address,
        accounts: chain.accounts.map((a) => ({ address: a.address, privateKey: a.privateKey, balanceEth: formatEther(a.balance) })),
        next: `vipnode coordinator --chain-rpc ${chain.url} --contract ${chain.contractAddress} --operator-key ${o.operatorKeyOut ?? '<file with accounts[0].privateKey>'} --confirmations 2`,
      })
      onGracefulShutdown(() => chain.close(), createLogger({ level: 'info' }))
    })
}

export function contractCommand(): Command {
  const cmd = new Command('contract').description('manage the payout contract')
  cmd
    .command('deploy')
    .description('deploy VipnodePool; the key that deploys becomes the operator unless --operator says otherwise')
    .addOption(opt('--chain-rpc <url>', 'JSON-RPC URL of the chain').makeOptionMandatory())
    .addOption(opt('--operator-key <file>', 'JSON keystore (or, on dev chains, a hex key file) that pays for the deployment').makeOptionMandatory())
    .addOption(opt('--operator-password-file <file>', 'file holding the keystore password (else VIPNODE_OPERATOR_PASSWORD)'))
    .addOption(opt('--operator <0x…>', 'operator address (default: the deploying key)'))
    .addOption(opt('--fee-recipient <0x…>', 'receives the pool fee (default: the operator)'))
    .action(async (o: { chainRpc: string; operatorKey: string; operatorPasswordFile?: string; operator?: string; feeRecipient?: string }) => {
      const wallet = await signer(o.chainRpc, o.operatorKey, o.operatorPasswordFile)
      const operator = o.operator ?? wallet.address
      const pool = await deployVipnodePool(wallet, operator, o.feeRecipient ?? operator)
      print({ contract: await pool.getAddress(), operator, feeRecipient: o.feeRecipient ?? operator, tx: pool.deploymentTransaction()?.hash })
      wallet.provider?.destroy()
    })
  return cmd
}

/** `vipnode host claim`: fetch this payout address's proof from the coordinator and claim on chain. */
export function claimCommand(): Command {
  return new Command('claim')
    .description("claim a payout address's earnings: fetches the proof from the coordinator and sends the claim")
    .addOption(opt('--coordinator <url>', 'the coordinator base URL').makeOptionMandatory())
    .addOption(opt('--chain-rpc <url>', 'JSON-RPC URL of the chain').makeOptionMandatory())
    .addOption(opt('--contract <0x…>', 'the VipnodePool address').makeOptionMandatory())
    .addOption(opt('--payout <0x…>', 'the payout address to claim for (anyone may claim for it; the money goes to it)').makeOptionMandatory())
    .addOption(opt('--key <file>', 'JSON keystore (or dev hex key) that pays the gas').makeOptionMandatory())
    .addOption(opt('--password-file <file>', 'file holding the keystore password (else VIPNODE_OPERATOR_PASSWORD)'))
    .action(async (o: { coordinator: string; chainRpc: string; contract: string; payout: string; key: string; passwordFile?: string }) => {
      const res = await fetch(new URL(`/v1/payouts/${o.payout}`, o.coordinator))
      const body = (await res.json()) as { cumulativeWei?: string; proof?: string[]; epoch?: number; error?: { message: string } }
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
