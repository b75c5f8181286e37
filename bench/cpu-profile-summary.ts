/**
 * Summarises a V8 .cpuprofile (as written by `node --cpu-prof`, e.g. via
 * `npm run bench -- --brook-cpu-prof DIR`): self time per function and per source file, top N.
 *
 *   node bench/cpu-profile-summary.ts FILE.cpuprofile [--top 25] [--last SECONDS] [--drop-last SECONDS]
 *
 * `--last S` keeps only the samples of the profile's last S seconds (e.g. the consume phase of a
 * bench run, which ends with the broker's stop); `--drop-last S` leaves out its final S seconds
 * (the stop itself: closing fsyncs every segment).
 *
 * Profile format: { nodes: [{ id, callFrame: { functionName, url, lineNumber }, hitCount }],
 * samples: [node id...], timeDeltas: [µs...] }; self time of a node = sum of the deltas of the
 * samples that landed on it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export type SelfTime = { name: string; ms: number; share: number };

function shortUrl(url: string): string {
  if (url === '') return '(native/vm)';
  const at = url.indexOf('/broker/');
  if (at >= 0) return url.slice(at + 1);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.replace(/^file:\/\//, '');
}

/** Shares are of busy time: samples on V8's "(idle)" node (event loop waiting) are counted apart. */
export function summarise(profile: CpuProfile, lastSeconds = Infinity, dropLastSeconds = 0): { totalMs: number; idleMs: number; byFunction: SelfTime[]; byFile: SelfTime[] } {
  const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let spanUs = 0;
  for (const d of profile.timeDeltas) spanUs += d;
  const fromUs = spanUs - lastSeconds * 1e6;
  const toUs = spanUs - dropLastSeconds * 1e6;
  let atUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    atUs += profile.timeDeltas[i] ?? 0;
    if (atUs < fromUs || atUs > toUs) continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = nodeById.get(id)?.callFrame;
    if (frame === undefined) continue;
    if (frame.functionName === '(idle)' && frame.url === '') {
      idleUs += us;
      continue;
    }
    totalUs += us;
    const file = shortUrl(frame.url);
    const fn = `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${file}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>): SelfTime[] => [...m]
    .map(([name, us]) => ({ name, ms: us / 1000, share: totalUs === 0 ? 0 : us / totalUs }))
    .sort((a, b) => b.ms - a.ms);
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, byFunction: sorted(byFunction), byFile: sorted(byFile) };
}

function render(title: string, rows: SelfTime[], top: number): string {
  return [`${title}:`, ...rows.slice(0, top).map((r) =>
    `  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`)].join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, last: { type: 'string' }, 'drop-last': { type: 'string' } } });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node bench/cpu-profile-summary.ts FILE.cpuprofile [--top N] [--last SECONDS] [--drop-last SECONDS]\n');
    process.exit(2);
  }
  const summary = summarise(JSON.parse(readFileSync(positionals[0], 'utf8')) as CpuProfile, values.last === undefined ? Infinity : Number(values.last),
    Number(values['drop-last'] ?? 0));
  const top = Number(values.top);
  process.stdout.write(`main thread: ${summary.totalMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle (shares below are of busy time)\n` +
    `${render('self time by function', summary.byFunction, top)}\n${render('self time by file', summary.byFile, top)}\n`);
}
