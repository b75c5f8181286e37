/**
 * Turns the per-broker results into the comparison: one row per metric with both numbers,
 * the Brook/Kafka ratio and the target from the issue, rendered as a Markdown table (printed
 * and pasted into docs/benchmarks.md) and kept in the results JSON.
 */
import { kernelPerGiB } from './scenarios.ts';
import type { ConsumeRun, LoadResult, ProduceRun } from './scenarios.ts';
import type { Acks, BenchOptions } from './options.ts';

const MIB = 1024 ** 2;

export type BrokerReport = {
  name: 'kafka' | 'brook';
  command: string;
  /** Set when the broker could not be started or measured at all. */
  error: string | undefined;
  /** Best (or median, per --aggregate) of startupSamplesMs. */
  startupMs: number | undefined;
  /** Spawn -> ready of each --startup-runs start; the last start is the one that gets the load. */
  startupSamplesMs: number[];
  startupNotes: Record<string, number>;
  peakRssBytes: number | undefined;
  hwmBytes: number | undefined;
  load: LoadResult | undefined;
  stop: { code: number | null; signal: string | null; stopMs: number; killed: boolean } | undefined;
};

export type Target = { op: '>=' | '<='; ratio: number };

export type ComparisonRow = {
  metric: string;
  unit: string;
  kafka: number | undefined;
  brook: number | undefined;
  /** brook / kafka */
  ratio: number | undefined;
  target: Target | undefined;
  met: boolean | undefined;
};

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * One value over the repetitions of a produce case: the best one (highest throughput, lowest
 * latency or CPU; on a shared machine the least disturbed run) or the median, per --aggregate.
 * Undefined when no repetition succeeded.
 */
type Better = 'higher' | 'lower';
type ProduceCase = { pick: (f: (r: ProduceRun) => number, better: Better) => number | undefined };

function pickOf<R>(runs: R[], aggregate: BenchOptions['aggregate']) {
  return (f: (r: R) => number, better: Better): number | undefined => {
    const values = runs.map(f);
    if (values.length === 0) return undefined;
    if (aggregate === 'median') return median(values);
    return better === 'higher' ? Math.max(...values) : Math.min(...values);
  };
}

function produceCase(report: BrokerReport | undefined, acks: Acks, mode: ProduceRun['mode'], aggregate: BenchOptions['aggregate']): ProduceCase {
  return { pick: pickOf(report?.load?.produce.filter((r) => r.acks === acks && r.mode === mode) ?? [], aggregate) };
}

/** The consume repetitions, picked as produceCase picks (a results file of before session 10 holds one run, not a list). */
function consumeCase(report: BrokerReport | undefined, aggregate: BenchOptions['aggregate']) {
  const consume = report?.load?.consume as ConsumeRun[] | ConsumeRun | undefined;
  return pickOf(Array.isArray(consume) ? consume : consume ? [consume] : [], aggregate);
}

function row(metric: string, unit: string, kafka: number | undefined, brook: number | undefined, target?: Target): ComparisonRow {
  const ratio = kafka !== undefined && brook !== undefined && kafka > 0 && Number.isFinite(brook) ? brook / kafka : undefined;
  const met = ratio === undefined || target === undefined ? undefined
    : target.op === '>=' ? ratio >= target.ratio : ratio <= target.ratio;
  return { metric, unit, kafka, brook, ratio, target, met };
}

/** A row for a figure older results files lack (NaN): left out when neither broker has it. */
function optionalRow(rows: ComparisonRow[], metric: string, unit: string, kc: ReturnType<typeof consumeCase>, bc: ReturnType<typeof consumeCase>,
  f: (r: ConsumeRun) => number, better: Better): void {
  const finite = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) ? v : undefined);
  const k = finite(kc(f, better));
  const b = finite(bc(f, better));
  if (k !== undefined || b !== undefined) rows.push(row(metric, unit, k, b));
}

export function compare(options: BenchOptions, kafka: BrokerReport | undefined, brook: BrokerReport | undefined): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const acks of options.acks) {
    const kMax = produceCase(kafka, acks, 'throughput', options.aggregate);
    const bMax = produceCase(brook, acks, 'throughput', options.aggregate);
    const kLat = produceCase(kafka, acks, 'latency', options.aggregate);
    const bLat = produceCase(brook, acks, 'latency', options.aggregate);
    const both = (c1: ProduceCase, c2: ProduceCase, f: (r: ProduceRun) => number, better: Better = 'lower'): [number | undefined, number | undefined] =>
      [c1.pick(f, better), c2.pick(f, better)];
    rows.push(
      row(`acks=${acks} produce throughput`, 'records/s', ...both(kMax, bMax, (r) => r.summary.recordsPerSec, 'higher'), { op: '>=', ratio: 1 }),
      row(`acks=${acks} produce throughput`, 'MiB/s', ...both(kMax, bMax, (r) => r.summary.mibPerSec, 'higher'), { op: '>=', ratio: 1 }),
    );
    if (options.latencyRecords > 0) {
      rows.push(
        row(`acks=${acks} p50 latency @ ${options.latencyRate} rec/s`, 'ms', ...both(kLat, bLat, (r) => r.summary.p50Ms)),
        row(`acks=${acks} p99 latency @ ${options.latencyRate} rec/s`, 'ms', ...both(kLat, bLat, (r) => r.summary.p99Ms), { op: '<=', ratio: 1 }),
      );
    }
    rows.push(
      row(`acks=${acks} p50 latency at max throughput`, 'ms', ...both(kMax, bMax, (r) => r.summary.p50Ms)),
      row(`acks=${acks} p99 latency at max throughput`, 'ms', ...both(kMax, bMax, (r) => r.summary.p99Ms)),
      row(`acks=${acks} broker CPU per GiB produced`, 'CPU s/GiB', ...both(kMax, bMax, (r) => r.cpuSecondsPerGiB), { op: '<=', ratio: 1 }),
    );
  }
  if (options.consumer !== 'none') {
    const kc = consumeCase(kafka, options.aggregate);
    const bc = consumeCase(brook, options.aggregate);
    rows.push(
      row('consume throughput (fetch phase)', 'records/s', kc((r) => r.summary.fetchRecordsPerSec, 'higher'), bc((r) => r.summary.fetchRecordsPerSec, 'higher')),
      row('consume throughput (fetch phase)', 'MiB/s', kc((r) => r.summary.fetchMibPerSec, 'higher'), bc((r) => r.summary.fetchMibPerSec, 'higher')),
      row('broker CPU per GiB consumed', 'CPU s/GiB', kc((r) => r.cpuSecondsPerGiB, 'lower'), bc((r) => r.cpuSecondsPerGiB, 'lower')),
    );
    // the kernel's share: sendfile, and over loopback part of the consumer's TCP receive work (docs/benchmarks.md)
    optionalRow(rows, 'of which kernel (stime) per GiB consumed', 'CPU s/GiB', kc, bc, (r) => kernelPerGiB(r) ?? Number.NaN, 'lower');
    // how much of the topic the run found in the page cache (bench/page-cache.ts: the VM pages out idle memory)
    const cached = (r: ConsumeRun) => {
      const start = r.pageCache?.start;
      return start === undefined || start.totalBytes === 0 ? Number.NaN : (100 * start.residentBytes) / start.totalBytes;
    };
    // 'lower': under --aggregate best, the least-cached run
    optionalRow(rows, 'consumed topic in page cache at run start', '%', kc, bc, cached, 'lower');
  }
  const mib = (b: number | undefined): number | undefined => (b === undefined ? undefined : b / MIB);
  rows.push(
    row('broker peak RSS', 'MiB', mib(kafka?.peakRssBytes), mib(brook?.peakRssBytes), { op: '<=', ratio: 0.25 }),
    row('broker start-up (spawn -> Metadata answered)', 'ms', kafka?.startupMs, brook?.startupMs, { op: '<=', ratio: 0.2 }),
  );
  return rows;
}

function num(n: number | undefined, unit: string): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  if (unit === 'records/s') return Math.round(n).toLocaleString('en-US');
  if (unit === 'ms' && (Number.isInteger(n) || n >= 100)) return n.toFixed(0);
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function renderTable(rows: ComparisonRow[]): string {
  const header = ['metric', 'unit', 'Kafka', 'Brook', 'Brook/Kafka', 'target', 'met'];
  const body = rows.map((r) => [
    r.metric, r.unit, num(r.kafka, r.unit), num(r.brook, r.unit),
    r.ratio === undefined ? 'n/a' : `${r.ratio.toFixed(2)}x`,
    r.target === undefined ? '' : `${r.target.op} ${r.target.ratio}x`,
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}
