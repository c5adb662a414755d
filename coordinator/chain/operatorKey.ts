/**
 * The operator's signing key: an encrypted JSON keystore (geth/ethers
 * format) with its password from VIPNODE_OPERATOR_PASSWORD or a file. A bare
 * 0x-hex private key file is accepted for dev chains only, with a warning.
 */
import { readFileSync } from 'node:fs'
import { Wallet } from 'ethers'

/** The keystore password: from `passwordFile` when given, else VIPNODE_OPERATOR_PASSWORD. */
function readPassword(passwordFile: string | undefined): string | undefined {
  if (!passwordFile) return process.env.VIPNODE_OPERATOR_PASSWORD
  try {
    return readFileSync(passwordFile, 'utf8').trim()
  } catch (err) {
    throw new Error(`cannot read password file ${passwordFile}: ${(err as Error).message}`)
  }
}

export async function loadOperatorWallet(file: string, passwordFile: string | undefined, warn: (msg: string) => void): Promise<Wallet> {
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw new Error(`cannot read operator key ${file}: ${(err as Error).message}`)
  }
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) {
    warn('operator key is an unencrypted private key: fine for a dev chain, never for real money')
    return new Wallet(text.startsWith('0x') ? text : `0x${text}`)
  }
  if (!text.startsWith('{')) throw new Error(`${file} is neither a JSON keystore nor a hex private key`)
  const password = readPassword(passwordFile)
  if (password === undefined) throw new Error('the operator keystore is encrypted: set VIPNODE_OPERATOR_PASSWORD or pass --operator-password-file')
  try {
    const wallet = await Wallet.fromEncryptedJson(text, password)
    return wallet instanceof Wallet ? wallet : new Wallet(wallet.privateKey)
  } catch (err) {
    throw new Error(`cannot decrypt operator keystore ${file}: ${(err as Error).message}`)
  }
}
