import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';

const logger = new URL('./logger.ts', import.meta.url).href;

/** Runs `body` (with createLogger imported) in a fresh Node process whose stderr is a pipe; its stdout and stderr. */
function run(body: string): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const { createLogger } = await import(${JSON.stringify(logger)});\n${body}`], {
    encoding: 'utf8', env: { ...process.env, BROOK_LOG_LEVEL: 'info' }, timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

const lines = (text: string) => text.trim().split('\n').map((l) => l.replace(/^\S+ /, ''));

describe('logger', () => {
  test('a burst of info lines leaves stderr in one write, in order, and a warn flushes at once with the lines before it', () => {
    const { stdout, stderr } = run(`
      const writes = [];
      const err = process.stderr;
      const w1 = err._write.bind(err), wv = err._writev.bind(err);
      err._write = (chunk, enc, cb) => { writes.push(1); w1(chunk, enc, cb); };
      err._writev = (chunks, cb) => { writes.push(chunks.length); wv(chunks, cb); };
      const log = createLogger('broker-0');
      for (let i = 0; i < 100; i++) log.info('created topic t' + i);
      log.debug('not at this level');
      await new Promise((r) => setImmediate(r));
      const afterBurst = writes.length;
      log.info('before the warning');
      log.warn('disk nearly full');
      const afterWarn = writes.length;
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ writes, afterBurst, afterWarn }));
    `);
    const { writes, afterBurst, afterWarn } = JSON.parse(stdout) as { writes: number[]; afterBurst: number; afterWarn: number };
    expect(afterBurst).toBe(1);
    expect(writes[0]).toBe(100);
    expect(afterWarn).toBe(2); // the warning did not wait for the tick to end
    expect(writes[1]).toBe(2);
    expect(lines(stderr)).toEqual([
      ...Array.from({ length: 100 }, (_, i) => `INFO  [broker-0] created topic t${i}`),
      'INFO  [broker-0] before the warning',
      'WARN  [broker-0] disk nearly full',
    ]);
  });

  test('lines logged right before process.exit are written', () => {
    const { stderr } = run(`
      const log = createLogger('broker-0').child('store');
      log.info('one');
      log.info('two');
      process.exit(0);
    `);
    expect(lines(stderr)).toEqual(['INFO  [broker-0/store] one', 'INFO  [broker-0/store] two']);
  });
});
