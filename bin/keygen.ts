/** `vipnode keygen`: write a node key in geth's nodekey format and print its node ID. */
import { Command } from 'commander'
import { generateNodeKey, nodeIdOf, saveNodeKey } from '../protocol/index.ts'
import { opt } from '../lib/cli.ts'

export function keygenCommand(): Command {
  return new Command('keygen')
    .description("generate a node key (geth's nodekey format: 64 hex chars) and print its node ID")
    .addOption(opt('--out <file>', 'where to write the key').default('./nodekey'))
    .option('--force', 'overwrite an existing key file', false)
    .action((o: { out: string; force: boolean }) => {
      const key = generateNodeKey()
      saveNodeKey(o.out, key, { force: o.force })
      process.stdout.write(`${JSON.stringify({ nodeKeyFile: o.out, nodeId: nodeIdOf(key) })}\n`)
    })
}
