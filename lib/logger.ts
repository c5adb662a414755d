import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino'

/**
 * Structured JSON logs. Messages are constant strings; everything variable goes
 * in the context object, so logs can be grepped and aggregated.
 */
export type LogContext = Record<string, unknown>

export interface Logger {
  debug(message: string, context?: LogContext): void
  info(message: string, context?: LogContext): void
  warn(message: string, context?: LogContext, error?: unknown): void
  error(message: string, context?: LogContext, error?: unknown): void
  child(bindings: LogContext): Logger
  readonly level: string
}

export type LogLevel = LevelWithSilent

export interface LoggerOptions {
  level?: LogLevel
  /** Where to write; defaults to stdout. */
  destination?: NodeJS.WritableStream
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination({ sync: false }),
  )
  return wrap(base)
}

export const silentLogger: Logger = wrap(pino({ level: 'silent' }))

function wrap(p: PinoLogger): Logger {
  const withError = (context: LogContext | undefined, error: unknown) =>
    error === undefined ? (context ?? {}) : { ...context, err: error }
  return {
    debug: (message, context) => p.debug(context ?? {}, message),
    info: (message, context) => p.info(context ?? {}, message),
    warn: (message, context, error) => p.warn(withError(context, error), message),
    error: (message, context, error) => p.error(withError(context, error), message),
    child: (bindings) => wrap(p.child(bindings)),
    get level() {
      return p.level
    },
  }
}

/** Strip credentials from a URL before it reaches a log line or an error message. */
export function scrubUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.username || u.password) {
      u.username = ''
      u.password = ''
    }
    return u.toString()
  } catch {
    return url
  }
}
