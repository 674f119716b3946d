/**
 * Structured logs (pino) go to stderr, one JSON object per line, from every thread; stdout carries
 * only the human start-up lines. Each thread makes its own logger with a `thread` field.
 */
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel, thread: string): Logger {
  return pino({ level, base: { thread }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}
