import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { makeTestPki, type TestPki } from '../../test/harness/tls-pki.ts';
import { Kube } from './client.ts';
import { KubeErrorCode, type KubeError } from './errors.ts';
import type { Resource } from './objects.ts';

/**
 * The transports of Kube (requests and watch streams) against a loopback server that answers as
 * the API server would, three ways: plain HTTP/1.1 (undici), TLS offering h2 (node's HTTP/2
 * client, what a real kube-apiserver gets), and TLS offering only HTTP/1.1 (undici again, chosen
 * in the handshake). What the API server itself does with them is test/k8s's (a real one).
 */
const topics: Resource = { apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', plural: 'topics', namespaced: true };

let seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string; protocol: string; clientCn: string | undefined }> = [];
/** The test's answer; an HTTP/2 request and answer are node's compatibility objects, which have what is used here. */
let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void = () => {};

/** Cuts the connection `req` came on. */
function cutConnection(req: IncomingMessage): void {
  const h2 = (req as unknown as Partial<Http2ServerRequest>).stream;
  if (h2) h2.session?.destroy(); else req.socket.destroy();
}

const pkiDir = mkdtempSync(join(tmpdir(), 'brook-kube-client-'));
let pki: TestPki;
beforeAll(() => { pki = makeTestPki(pkiDir); });
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));

function onRequest(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    const body = Buffer.concat(parts).toString();
    const socket = req.socket as Partial<TLSSocket>;
    const clientCn = socket.getPeerCertificate?.()?.subject?.CN as string | undefined;
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, protocol: req.httpVersion, clientCn });
    handle(req as IncomingMessage, body, res as ServerResponse);
  });
}

type Transport = 'http/1.1' | 'h2 over TLS' | 'http/1.1 over TLS';

/** A server of `transport` on a loopback port; `sessions` counts the HTTP/2 connections it took. */
async function serve(transport: Transport): Promise<{ port: number; sessions: ServerHttp2Session[]; close(): Promise<void> }> {
  const sessions: ServerHttp2Session[] = [];
  let server: Server | Http2SecureServer;
  if (transport === 'http/1.1') server = createServer(onRequest);
  else {
    const tls = { key: readFileSync(pki.brokerKey), cert: readFileSync(pki.brokerCert), ca: readFileSync(pki.caCert), requestCert: true, rejectUnauthorized: false };
    if (transport === 'h2 over TLS') {
      const h2 = createSecureServer({ ...tls, allowHTTP1: false }, onRequest);
      h2.on('session', (s: ServerHttp2Session) => sessions.push(s));
      server = h2;
    } else {
      server = createHttpsServer(tls, onRequest);
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    async close() {
      for (const s of sessions) s.destroy();
      (server as Server).closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}

function kubeOf(transport: Transport, port: number): Kube {
  const kc = new KubeConfig();
  const tls = transport !== 'http/1.1';
  kc.loadFromOptions({
    clusters: [tls
      ? { name: 'c', server: `https://127.0.0.1:${port}`, caData: readFileSync(pki.caCert).toString('base64'), skipTLSVerify: false }
      : { name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't0ken', ...(tls ? { certData: readFileSync(pki.clientCert).toString('base64'), keyData: readFileSync(pki.clientKey).toString('base64') } : {}) }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new Kube(kc, { fieldManager: 'test' });
}

/** What `p` rejected with; a test fails when it resolves. */
async function failureOf<E = KubeError>(p: Promise<unknown>): Promise<E> {
  try { await p; } catch (err) { return err as E; }
  throw new Error('expected a failure, but it succeeded');
}

function json(res: ServerResponse, status: number, obj: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

describe.each<Transport>(['http/1.1', 'h2 over TLS', 'http/1.1 over TLS'])('Kube over %s', (transport) => {
  let server: Awaited<ReturnType<typeof serve>>;
  let kube: Kube;
  beforeAll(async () => {
    server = await serve(transport);
    kube = kubeOf(transport, server.port);
  });
  afterAll(async () => { kube.close(); await server.close(); });

  describe('requests', () => {
    test('a create sends the object as JSON with the token, the field manager and the kind; the answer is parsed', async () => {
      seen = [];
      handle = (_req, body, res) => json(res, 201, { ...JSON.parse(body), metadata: { ...JSON.parse(body).metadata, resourceVersion: '7' } });
      const made = await kube.create(topics, { metadata: { name: 'orders', namespace: 'ns' }, spec: { partitions: 3 } } as never);
      expect(made).toMatchObject({ apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name: 'orders', resourceVersion: '7' }, spec: { partitions: 3 } });
      expect(seen).toHaveLength(1);
      expect(seen[0]!.method).toBe('POST');
      expect(seen[0]!.url).toBe('/apis/brook.dev/v1alpha1/namespaces/ns/topics?fieldManager=test');
      expect(seen[0]!.headers.authorization).toBe('Bearer t0ken');
      expect(seen[0]!.headers['content-type']).toBe('application/json');
      expect(seen[0]!.headers.accept).toBe('application/json');
      expect(seen[0]!.protocol).toBe(transport === 'h2 over TLS' ? '2.0' : '1.1');
      // the kubeconfig's client certificate is presented (mTLS to the API server)
      expect(seen[0]!.clientCn).toBe(transport === 'http/1.1' ? undefined : 'alice');
    });

    test('a server-side apply is a PATCH with the apply content type, forced', async () => {
      seen = [];
      handle = (_req, body, res) => json(res, 200, JSON.parse(body));
      await kube.apply(topics, { metadata: { name: 'orders', namespace: 'ns' } } as never, 'status');
      expect(seen[0]!.method).toBe('PATCH');
      expect(seen[0]!.url).toBe('/apis/brook.dev/v1alpha1/namespaces/ns/topics/orders/status?fieldManager=test&force=true');
      expect(seen[0]!.headers['content-type']).toBe('application/apply-patch+yaml');
    });

    test('an error status becomes a KubeError with the Status reason; a body that is not a Status keeps its text', async () => {
      handle = (_req, _body, res) => json(res, 409, { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', message: 'topics "orders" already exists', code: 409 });
      const exists = await failureOf(kube.create(topics, { metadata: { name: 'orders', namespace: 'ns' } } as never));
      expect(exists).toMatchObject({ code: KubeErrorCode.ALREADY_EXISTS, status: 409 });
      expect(exists.message).toContain('already exists');

      handle = (_req, _body, res) => { res.writeHead(503); res.end('overloaded, try later'); };
      const down = await failureOf(kube.get(topics, 'ns', 'orders'));
      expect(down.status).toBe(503);
      expect(down.message).toContain('overloaded, try later');
    });

    test('no server at the address is BROOK_ERR_KUBE_UNREACHABLE, naming the request', async () => {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as AddressInfo).port;
      await new Promise((r) => probe.close(r));
      const err = await failureOf(kubeOf(transport, port).get(topics, 'ns', 'orders'));
      expect(err.code).toBe(KubeErrorCode.UNREACHABLE);
      expect(err.message).toContain('GET /apis/brook.dev/v1alpha1/namespaces/ns/topics/orders');
    });

    test('a connection cut in the middle of an answer is BROOK_ERR_KUBE_UNREACHABLE, not a truncated answer', async () => {
      handle = (req, _body, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"metadata":{"name":"orders","resourceVer');
        setTimeout(() => cutConnection(req), 50);
      };
      const err = await failureOf(kube.get(topics, 'ns', 'orders'));
      expect(err.code).toBe(KubeErrorCode.UNREACHABLE);
      expect(err.message).toContain('GET /apis/brook.dev/v1alpha1/namespaces/ns/topics/orders');
      // the next request gets through (on a new connection)
      handle = (_req, _body, res) => json(res, 200, { metadata: { name: 'orders' } });
      expect(await kube.get(topics, 'ns', 'orders')).toMatchObject({ metadata: { name: 'orders' } });
    });

    test('requestTimeoutMs gives up on an answer that does not come', async () => {
      handle = () => { /* never answers */ };
      const kc = kube.kc;
      const quick = new Kube(kc, { requestTimeoutMs: 200 });
      const started = Date.now();
      const err = await failureOf(quick.get(topics, 'ns', 'slow'));
      quick.close();
      expect(err.code).toBe(KubeErrorCode.UNREACHABLE);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('watch streams', () => {
    test('events split across chunks, several per chunk and blank lines arrive whole and in order', async () => {
      seen = [];
      const events = Array.from({ length: 50 }, (_, i) => ({ type: i % 2 ? 'MODIFIED' : 'ADDED', object: { metadata: { name: `t${i}`, resourceVersion: String(100 + i) }, spec: { note: 'é'.repeat(i) } } }));
      const text = events.map((e) => JSON.stringify(e) + '\n').join('\n');
      const bytes = Buffer.from(text);
      handle = (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        // Cut every 7 bytes: inside lines and inside the two bytes of an 'é'.
        let at = 0;
        const next = () => {
          if (at >= bytes.length) { res.end(); return; }
          res.write(bytes.subarray(at, at + 7));
          at += 7;
          setImmediate(next);
        };
        next();
      };
      const got: Array<{ type: string; object: unknown }> = [];
      await kube.watch('/apis/brook.dev/v1alpha1/namespaces/ns/topics', { resourceVersion: '99', allowWatchBookmarks: true }, (type, object) => got.push({ type, object }), new AbortController().signal);
      expect(got).toEqual(events);
      expect(seen[0]!.url).toBe('/apis/brook.dev/v1alpha1/namespaces/ns/topics?resourceVersion=99&allowWatchBookmarks=true&watch=true');
    });

    test('a refused watch (410 Gone) is a KubeError with code GONE', async () => {
      handle = (_req, _body, res) => json(res, 410, { kind: 'Status', status: 'Failure', reason: 'Expired', message: 'too old resource version: 1 (500)', code: 410 });
      const err = await failureOf(kube.watch('/apis/brook.dev/v1alpha1/namespaces/ns/topics', { resourceVersion: '1' }, () => {}, new AbortController().signal));
      expect(err.code).toBe(KubeErrorCode.GONE);
    });

    test('a line that is not JSON fails the watch with what was sent; the events before it were delivered', async () => {
      handle = (_req, _body, res) => {
        res.writeHead(200);
        res.end(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n<html>proxy error</html>\n');
      };
      const got: string[] = [];
      const err = await failureOf(kube.watch('/apis/brook.dev/v1alpha1/namespaces/ns/topics', {}, (type) => got.push(type), new AbortController().signal));
      expect(got).toEqual(['ADDED']);
      expect(err.code).toBe(KubeErrorCode.UNREACHABLE);
      expect(err.message).toContain('<html>proxy error</html>');
    });

    test('a connection cut mid-stream is BROOK_ERR_KUBE_UNREACHABLE; an abort is an AbortError', async () => {
      handle = (req, _body, res) => {
        res.writeHead(200);
        res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n{"type":"MOD');
        setTimeout(() => cutConnection(req), 50);
      };
      const cut = await failureOf(kube.watch('/apis/brook.dev/v1alpha1/namespaces/ns/topics', {}, () => {}, new AbortController().signal));
      expect(cut.code).toBe(KubeErrorCode.UNREACHABLE);

      handle = (_req, _body, res) => { res.writeHead(200); res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n'); };
      const abort = new AbortController();
      const aborted = await failureOf<Error>(kube.watch('/apis/brook.dev/v1alpha1/namespaces/ns/topics', {}, () => abort.abort(), abort.signal));
      expect(aborted.name).toBe('AbortError');
    });

    test('what the event handler throws ends the watch with that error', async () => {
      handle = (_req, _body, res) => { res.writeHead(200); res.write(JSON.stringify({ type: 'ADDED', object: {} }) + '\n'); };
      const boom = new Error('handler bug');
      await expect(kube.watch('/apis/brook.dev/v1alpha1/namespaces/ns/topics', {}, () => { throw boom; }, new AbortController().signal)).rejects.toBe(boom);
    });
  });
});

describe('Kube over HTTP/2: the one connection', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    server = await serve('h2 over TLS');
    handle = (_req, _body, res) => json(res, 200, { metadata: { name: 'orders' } });
  });
  afterAll(async () => { await server.close(); });

  test('concurrent requests share one connection; one closed or sent GOAWAY is replaced by the next request', async () => {
    const kube = kubeOf('h2 over TLS', server.port);
    const before = server.sessions.length;
    await Promise.all(Array.from({ length: 50 }, () => kube.get(topics, 'ns', 'orders')));
    expect(server.sessions.length - before).toBe(1);

    server.sessions.at(-1)!.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(await kube.get(topics, 'ns', 'orders')).toMatchObject({ metadata: { name: 'orders' } });
    expect(server.sessions.length - before).toBe(2);

    await new Promise<void>((resolve) => server.sessions.at(-1)!.close(resolve)); // GOAWAY, then closed
    expect(await kube.get(topics, 'ns', 'orders')).toMatchObject({ metadata: { name: 'orders' } });
    expect(server.sessions.length - before).toBe(3);
    kube.close();
  });

  test('an idle client does not keep a process alive: a script that made a request and a watch exits by itself', async () => {
    const script = join(pkiDir, 'one-request.ts');
    const kc = { server: `https://127.0.0.1:${server.port}`, ca: readFileSync(pki.caCert).toString('base64'), cert: readFileSync(pki.clientCert).toString('base64'), key: readFileSync(pki.clientKey).toString('base64') };
    writeFileSync(script, [
      `import { KubeConfig } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'node_modules/@kubernetes/client-node/dist/config.js'))};`,
      `import { Kube } from ${JSON.stringify(join(import.meta.dirname, 'client.ts'))};`,
      `const kc = new KubeConfig();`,
      `kc.loadFromOptions({ clusters: [{ name: 'c', server: '${kc.server}', caData: '${kc.ca}' }], users: [{ name: 'u', token: 't', certData: '${kc.cert}', keyData: '${kc.key}' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });`,
      `const kube = new Kube(kc);`,
      `const got = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true }, 'ns', 'x');`,
      `const events = [];`,
      `await kube.watch('/api/v1/namespaces/ns/configmaps', {}, (type) => events.push(type), new AbortController().signal);`,
      `console.log(JSON.stringify({ name: got.metadata.name, events }));`,
    ].join('\n'));
    handle = (req, _body, res) => {
      if (req.url!.includes('watch=true')) { res.writeHead(200); res.end(JSON.stringify({ type: 'ADDED', object: {} }) + '\n'); } else json(res, 200, { metadata: { name: 'x' } });
    };
    const child = spawn(process.execPath, [script], { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { errText += d; });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 20_000);
      child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
    });
    expect({ code, errText }).toEqual({ code: 0, errText: '' });
    expect(JSON.parse(out)).toEqual({ name: 'x', events: ['ADDED'] });
  }, 30_000);
});
