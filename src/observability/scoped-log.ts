/**
 * Fields bound to a request's log lines without pino's child(): a child
 * redacts its bindings when it is made, at every level, which on a hot path
 * (a SCEP enrollment) costs more than the lines it would write, and
 * nothing at all is written at the usual warn or info. Here the fields are
 * merged into a line only when the line is written, and redacted with it.
 */
import type { Logger } from 'pino';

type Level = 'debug' | 'info' | 'warn' | 'error';

export type ScopedLog = Record<Level, (objOrMessage: object | string, message?: string) => void>;

export function scoped(log: Logger, fields: Record<string, unknown>): ScopedLog {
  const at =
    (level: Level) =>
    (objOrMessage: object | string, message?: string): void => {
      if (!log.isLevelEnabled(level)) return;
      if (typeof objOrMessage === 'string') log[level](fields, objOrMessage);
      else log[level]({ ...fields, ...objOrMessage }, message);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
