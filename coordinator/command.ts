/** `vipnode coordinator`: flags and env (the table in config.ts) -> config -> startCoordinator. No wiring here. */
import { Command } from 'commander'
import { createLogger } from '../lib/logger.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { coordinatorOptions } from './config.ts'
import { startCoordinator } from './coordinator.ts'

export function coordinatorCommand(): Command {
  const command = new Command('coordinator').description('run the pool coordinator: agent WebSocket, bootstrap, status and metrics on one port')
  return coordinatorOptions.addTo(command).action(async () => {
    const config = coordinatorOptions.read(command)
    if (coordinatorOptions.printConfig(command, config)) return
    const logger = createLogger({ level: config.logLevel })
    if (config.adminToken && coordinatorOptions.source(command, 'adminToken') === 'cli') {
      logger.warn('the admin token was given on the command line, where every local user can read it (ps): use --admin-token-file or VIPNODE_ADMIN_TOKEN')
    }
    const coordinator = await startCoordinator(config, { logger })
    // SIGHUP: read the tracker's per-node secrets again (add or revoke a reporter without a restart).
    if (config.ethstatsSecretsFile) process.on('SIGHUP', () => coordinator.reloadTrackerSecrets())
    onGracefulShutdown(() => coordinator.close(), logger)
  })
}
