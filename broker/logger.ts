/**
 * A small leveled logger writing one line per event to stderr: `time level [component] message`.
 *
 * Debug and info lines written in one burst of work (a CreateTopics of 100 topics logs 100) leave
 * in one write: the first corks stderr and the lines are flushed once the current tick's callbacks
 * and promise reactions have run. A warn or error line flushes at once, with everything before it,
 * and so does the process's exit: nothing logged before `process.exit` is lost.
 */
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
    emit(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} [${component}] ${msg}\n`, rank[l] >= rank.warn);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    child: (c) => createLogger(`${component}/${c}`, level),
  };
}

let corked = false;
let exitHooked = false;

function emit(line: string, urgent: boolean): void {
  const out = process.stderr;
  if (!urgent && !corked) {
    corked = true;
    out.cork();
    process.nextTick(flush);
    if (!exitHooked) { exitHooked = true; process.on('exit', flush); }
  }
  out.write(line);
  if (urgent) flush();
}

function flush(): void {
  if (!corked) return;
  corked = false;
  process.stderr.uncork();
}

function envLevel(): LogLevel {
  const v = process.env.BROOK_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}
