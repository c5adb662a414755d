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
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[]
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'

export interface LoggerOptions {
  level?: LogLevel
  /** Where to write; defaults to stdout. */
  destination?: NodeJS.WritableStream
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const root = pino(
    {
      level: options.level ?? DEFAULT_LOG_LEVEL,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination({ sync: false }),
  )
  return wrap(root, {})
}

export const silentLogger: Logger = wrap(pino({ level: 'silent' }), {})

/**
 * Pino writes a child's bindings after its parent's without merging them, so a
 * service binding `module` under the coordinator's `module` would print the key
 * twice (log tools disagree about which wins). So every child is made from the
 * root with all its bindings merged, the inner value winning; and a line whose
 * context repeats a bound key is written through a child with that key rebound.
 */
function wrap(root: PinoLogger, bindings: LogContext): Logger {
  const bound = Object.keys(bindings).length === 0 ? root : root.child(bindings)
  const repeatsBinding = (context: LogContext): boolean => {
    for (const key in context) if (key in bindings) return true
    return false
  }
  const emit = (level: 'debug' | 'info' | 'warn' | 'error', message: string, context: LogContext | undefined, error?: unknown) => {
    if (!bound.isLevelEnabled(level)) return
    const ctx = error === undefined ? (context ?? {}) : { ...context, err: error }
    if (repeatsBinding(ctx)) root.child({ ...bindings, ...ctx })[level](message)
    else bound[level](ctx, message)
  }
  return {
    debug: (message, context) => emit('debug', message, context),
    info: (message, context) => emit('info', message, context),
    warn: (message, context, error) => emit('warn', message, context, error),
    error: (message, context, error) => emit('error', message, context, error),
    child: (more) => wrap(root, { ...bindings, ...more }),
    get level() {
      return bound.level
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
