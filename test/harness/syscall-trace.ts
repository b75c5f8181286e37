/**
 * Reads a system-call trace written by `strace -f -tt -yy -s 0 -o <file>` (Debian's strace 6):
 * one line per call, or a `<unfinished ...>` line and a later `<... name resumed>` line when
 * another thread's call came in between. Lines are in the order strace saw the calls; a call's
 * exit is reported before the thread that made it runs on, so "A's exit line comes before B's
 * entry line" means A returned before B was called.
 *
 *   1234 09:50:01.123456 fdatasync(18</data/t-0/00000000000000000000.log>) = 0
 *   1233 09:50:01.123500 writev(21<TCP:[127.0.0.1:9092->127.0.0.1:50000]>, [...], 1) = 10
 *   1234 09:50:01.223456 fdatasync(18</data/...> <unfinished ...>
 *   1234 09:50:01.323456 <... fdatasync resumed>) = 0
 */
import { readFileSync } from 'node:fs';

export interface Syscall {
  tid: number;
  name: string;
  fd: number;
  /** What `-yy` printed for the fd: a path, or `TCP:[local->remote]`. */
  target: string;
  /** Line index of the call's entry and of its exit (the same line unless it was split). */
  entry: number;
  exit: number;
  /** The return value (negative: failed, e.g. -1 ENOENT). */
  result: number;
}

const ENTRY = /^(\d+)\s+\S+ (\w+)\((\d+)<(TCP:\[[^\]]*\]|UDP:\[[^\]]*\]|[^>]*)>/;
const RESUMED = /^(\d+)\s+\S+ <\.\.\. (\w+) resumed>/;
const RESULT = / = (-?\d+)(?: \w+.*)?$/;

/** Every call of the trace that names an fd, in order of entry. */
export function readTrace(file: string): Syscall[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Syscall[] = [];
  const pending = new Map<string, Syscall>();
  lines.forEach((line, i) => {
    const resumed = RESUMED.exec(line);
    if (resumed) {
      const call = pending.get(`${resumed[1]}:${resumed[2]}`);
      const result = RESULT.exec(line);
      if (call && result) {
        call.exit = i;
        call.result = Number(result[1]);
        pending.delete(`${resumed[1]}:${resumed[2]}`);
      }
      return;
    }
    const entry = ENTRY.exec(line);
    if (!entry) return;
    const call: Syscall = { tid: Number(entry[1]), name: entry[2]!, fd: Number(entry[3]), target: entry[4]!, entry: i, exit: -1, result: NaN };
    out.push(call);
    if (line.endsWith('<unfinished ...>')) {
      pending.set(`${call.tid}:${call.name}`, call);
    } else {
      const result = RESULT.exec(line);
      call.exit = i;
      call.result = result ? Number(result[1]) : NaN;
    }
  });
  return out;
}
