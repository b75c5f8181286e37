/** A small leveled logger writing one line per event to stderr: `time level [component] message`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(component: string): Logger;
}

export function createLogger(component: string, level: LogLevel = envLevel()): Logger {
  const write = (l: LogLevel, msg: string): void => {
    if (rank[l] < rank[level]) return;
    process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} [${component}] ${msg}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    child: (c) => createLogger(`${component}/${c}`, level),
  };
}

function envLevel(): LogLevel {
  const v = process.env.BROOK_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}
