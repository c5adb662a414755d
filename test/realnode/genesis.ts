/**
 * A private clique chain in geth's genesis format, for real execution
 * clients in tests. One signer, every fork up to London at block 0, a short
 * block period so the head moves while a test watches.
 */
import { SigningKey, computeAddress, hexlify, randomBytes } from 'ethers'

export interface CliqueGenesisOptions {
  chainId?: number
  /** The one clique signer (0x address). */
  signer: string
  periodSeconds?: number
}

export function cliqueGenesis(options: CliqueGenesisOptions): Record<string, unknown> {
  const signer = options.signer.toLowerCase().replace(/^0x/, '')
  if (!/^[0-9a-f]{40}$/.test(signer)) throw new TypeError(`clique signer must be a 20-byte address, got ${options.signer}`)
  return {
    config: {
      chainId: options.chainId ?? 31337,
      homesteadBlock: 0,
      eip150Block: 0,
      eip155Block: 0,
      eip158Block: 0,
      byzantiumBlock: 0,
      constantinopleBlock: 0,
      petersburgBlock: 0,
      istanbulBlock: 0,
      berlinBlock: 0,
      londonBlock: 0,
      clique: { period: options.periodSeconds ?? 2, epoch: 30000 },
    },
    nonce: '0x0',
    // Now: ethereumjs counts itself synced only while its newest block is
    // under a minute old. Never in the future: the miner's first block would
    // be older than its parent, be rejected, and sealing would stop for good.
    timestamp: `0x${Math.floor(Date.now() / 1000).toString(16)}`,
    // Clique: 32 bytes of vanity, the signer list, a 65-byte empty seal.
    extraData: `0x${'00'.repeat(32)}${signer}${'00'.repeat(65)}`,
    gasLimit: '0x1c9c380',
    difficulty: '0x1',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    baseFeePerGas: '0x3b9aca00',
    alloc: { [signer]: { balance: '0x200000000000000000000000000000000000000000000000000000000000000' } },
    number: '0x0',
    gasUsed: '0x0',
    parentHash: `0x${'00'.repeat(32)}`,
  }
}

/** A fresh signer: its private key (hex, no 0x, as `--unlock FILE` wants it) and address. */
export function newSigner(): { privateKey: string; address: string } {
  const privateKey = hexlify(randomBytes(32)).slice(2)
  return { privateKey, address: computeAddress(new SigningKey(`0x${privateKey}`).publicKey) }
}
