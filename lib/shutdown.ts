/**
 * Run `cleanup` on the first SIGTERM/SIGINT; a second signal forces exit.
 * The process then exits on its own once nothing is left open, so leaked
 * handles show up instead of being hidden by process.exit(0).
 */
export function onGracefulShutdown(
  cleanup: () => Promise<void>,
  log: { info(msg: string, ctx?: Record<string, unknown>): void; error(msg: string, ctx?: Record<string, unknown>, err?: unknown): void },
): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.info('second signal, exiting now', { signal })
      process.exit(1)
    }
    stopping = true
    log.info('shutting down', { signal })
    cleanup().then(
      () => {
        log.info('shutdown complete')
        process.exitCode = process.exitCode ?? 0
      },
      (err: unknown) => {
        log.error('shutdown failed', {}, err)
        process.exitCode = 1
      },
    )
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}
