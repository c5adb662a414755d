/** `vipnode keygen`: write a node key in geth's nodekey format and print its node ID. */
import { Command } from 'commander'
import { z } from 'zod'
import { generateNodeKey, nodeIdOf, saveNodeKey } from '../protocol/index.ts'
import { defineOptions, flag, text } from '../lib/cliOptions.ts'

export const keygenOptions = defineOptions(z.object({ out: z.string().min(1).default('./nodekey'), force: z.boolean().default(false) }).strict(), {
  out: { flags: '--out <file>', description: 'where to write the key', parser: text },
  force: { flags: '--force', description: 'overwrite an existing key file', parser: flag },
})

export function keygenCommand(): Command {
  const command = new Command('keygen').description("generate a node key (geth's nodekey format: 64 hex chars) and print its node ID")
  return keygenOptions.addTo(command).action(() => {
    const o = keygenOptions.read(command)
    if (keygenOptions.printConfig(command, o)) return
    const key = generateNodeKey()
    saveNodeKey(o.out, key, { force: o.force })
    process.stdout.write(`${JSON.stringify({ nodeKeyFile: o.out, nodeId: nodeIdOf(key) })}\n`)
  })
}
