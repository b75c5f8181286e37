#!/usr/bin/env node
// Counts the jest tests by what they prove, so a report can say it:
//
//   per-version codec cases  tests of the wire protocol codec, one per API version, mostly
//                            generated (round trip and fuzz of every version, kafkajs golden bytes)
//                            plus golden fixtures of real clients' requests: tests in
//                            broker/protocol/ whose name names a version ("Fetch v7", "fetchV16Request")
//   other codec tests        the rest of broker/protocol/ (encoding rules, fuzzing, malformed frames)
//   behaviour tests          everything else: the broker, logs, replication, groups, the operator,
//                            real clients, chaos, the Kubernetes and Helm tiers
//
// It lists the tests without running them: jest with a name pattern no test has (`-t '^ $'`),
// which collects every test file and reports each test as skipped. Runs on the Node 24 of
// node_modules (through `npm run jest`); takes about half a minute.
//
//   node scripts/count-tests.mjs          a table
//   node scripts/count-tests.mjs --json   the counts as JSON
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'brook-count-tests-'));
const out = join(dir, 'tests.json');
try {
  const r = spawnSync('npm', ['run', '--silent', 'jest', '--', '--json', `--outputFile=${out}`, '-t', '^ $'], { cwd: root, encoding: 'utf8' });
  let report;
  try {
    report = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    throw new Error(`jest did not write its test list (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  }
  const broken = report.testResults.filter((f) => f.status === 'failed');
  if (broken.length > 0) {
    throw new Error(`these test files did not load, so their tests cannot be counted:\n${broken.map((f) => `${relative(root, f.name)}: ${f.message.slice(0, 400)}`).join('\n')}`);
  }

  const counts = { total: 0, perVersionCodecCases: 0, otherCodecTests: 0, behaviourTests: 0 };
  const byArea = {};
  for (const file of report.testResults) {
    const path = relative(root, file.name);
    const area = path.split('/').slice(0, 2).join('/');
    for (const t of file.assertionResults) {
      counts.total++;
      byArea[area] = (byArea[area] ?? 0) + 1;
      const name = [...t.ancestorTitles, t.title].join(' ');
      if (path.startsWith('broker/protocol/')) {
        if (/\bv\d+\b|V\d+(Request|Response)/.test(name)) counts.perVersionCodecCases++;
        else counts.otherCodecTests++;
      } else {
        counts.behaviourTests++;
      }
    }
  }

  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ ...counts, byArea }, null, 2)}\n`);
  } else {
    const pct = (n) => `${((100 * n) / counts.total).toFixed(0)}%`;
    process.stdout.write([
      `jest tests:                ${counts.total} in ${report.testResults.length} files`,
      `  per-version codec cases  ${counts.perVersionCodecCases} (${pct(counts.perVersionCodecCases)})  broker/protocol/, one per API version (generated, golden bytes)`,
      `  other codec tests        ${counts.otherCodecTests} (${pct(counts.otherCodecTests)})  broker/protocol/: encoding rules, fuzzing, malformed frames`,
      `  behaviour tests          ${counts.behaviourTests} (${pct(counts.behaviourTests)})  everything else`,
      'by directory:',
      ...Object.entries(byArea).sort(([a], [b]) => a.localeCompare(b)).map(([area, n]) => `  ${area.padEnd(24)} ${n}`),
      '',
    ].join('\n'));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
