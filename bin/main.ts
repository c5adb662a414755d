/** The `vipnode` CLI: one program, one subcommand per process or operator task. */
import { Command, CommanderError } from 'commander'
import { coordinatorCommand } from '../coordinator/command.ts'
import { keygenCommand } from './keygen.ts'
import { hostCommand } from '../host-agent/command.ts'
import { clientCommand } from '../client-shim/command.ts'
import { refundCommand } from '../client-shim/refundCommand.ts'
import { clientStatusCommand } from '../client-shim/statusCommand.ts'
import { creditCommand, auditCommand, payoutsCommand, backupCommand, migrateCommand } from '../coordinator/admin/commands.ts'
import { devchainCommand, contractCommand, claimCommand } from '../contracts/commands.ts'
import { verifyRootCommand } from '../contracts/verifyRoot.ts'
import { VERSION } from '../lib/packageVersion.ts'

export function buildProgram(): Command {
  return new Command('vipnode')
    .description('vipnode pool: pays Ethereum full-node operators for serving clients')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Options after a subcommand belong to it: `host claim --coordinator …` is claim's flag, not host's.
    .enablePositionalOptions()
    .addCommand(coordinatorCommand())
    .addCommand(hostCommand().addCommand(claimCommand()))
    .addCommand(clientCommand().addCommand(refundCommand()).addCommand(clientStatusCommand()))
    .addCommand(keygenCommand())
    .addCommand(creditCommand())
    .addCommand(payoutsCommand())
    .addCommand(auditCommand())
    .addCommand(backupCommand())
    .addCommand(migrateCommand())
    .addCommand(contractCommand())
    .addCommand(devchainCommand())
    .addCommand(verifyRootCommand())
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  program.exitOverride()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode
      return
    }
    // Startup failures: one readable line, no stack trace (the cause is in the message).
    const explain = (err as { explain?: unknown }).explain
    process.stderr.write(`vipnode: ${(err as Error).message}\n${typeof explain === 'string' ? ` -> ${explain}\n` : ''}`)
    process.exitCode = 1
  }
}
