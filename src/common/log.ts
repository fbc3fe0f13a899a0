// One structured log format for every daemon: a JSON object per line on stderr
// ({"ts","level","comp","msg",...fields}). Level from LOG_LEVEL (debug|info|warn|error), default info.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold = order[(process.env.LOG_LEVEL as LogLevel) ?? 'info'] ?? order.info;
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = order[level];
}

/** Redirect output (tests capture lines). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  isDebug(): boolean;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(comp: string, base: Record<string, unknown> = {}): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (order[level] < threshold) return;
    const rec: Record<string, unknown> = {
      ts: new Date().toISOString(),
      level,
      comp,
      msg,
      ...base,
      ...fields,
    };
    for (const k of Object.keys(rec)) {
      const v = rec[k];
      if (v instanceof Error) rec[k] = v.message;
      else if (typeof v === 'bigint') rec[k] = v.toString();
    }
    sink(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    isDebug: () => threshold <= order.debug,
    child: (fields) => createLogger(comp, { ...base, ...fields }),
  };
}
