import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki, type TestPki } from '../../test/harness/tls-pki.ts';
import { H2Session } from './h2-session.ts';

/** H2Session's own edges, below Kube (./client.test.ts covers the requests and watches through Kube). */
const dir = mkdtempSync(join(tmpdir(), 'brook-h2-session-'));
let pki: TestPki;
let server: Http2SecureServer;
let origin: string;
beforeAll(async () => {
  pki = makeTestPki(dir);
  server = createSecureServer({ key: readFileSync(pki.brokerKey), cert: readFileSync(pki.brokerCert) }, (_req, res) => {
    res.writeHead(200);
    res.write('{"type":"ADDED"}\n'); // a watch that stays open
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('a stream aborted before anyone reads it fails its reader later with the abort, and raises nothing meanwhile', async () => {
  const h2 = new H2Session(origin, { ca: readFileSync(pki.caCert) });
  expect(await h2.offersH2()).toBe(true);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const abort = new AbortController();
    const answer = await h2.open(`${origin}/watch`, {}, abort.signal);
    expect(answer.status).toBe(200);
    abort.abort();
    await new Promise((r) => setTimeout(r, 100)); // the stream fails while nobody reads its body
    let failure: unknown;
    try { for await (const chunk of answer.body) void chunk; } catch (err) { failure = err; }
    expect((failure as Error | undefined)?.name).toBe('AbortError');
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
    h2.close();
  }
});
