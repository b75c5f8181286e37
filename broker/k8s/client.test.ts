import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kube } from './client.ts';
import { KubeErrorCode, type KubeError } from './errors.ts';
import type { Resource } from './objects.ts';

/**
 * The transport of Kube (requests and watch streams) against a loopback HTTP server that answers
 * as the API server would. What the API server itself does with them is test/k8s's (a real one).
 */
const topics: Resource = { apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', plural: 'topics', namespaced: true };

let server: Server;
let seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void = () => {};

function kubeOf(port: number): Kube {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't0ken' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new Kube(kc, { fieldManager: 'test' });
}

let kube: Kube;
beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString();
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handle(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kube = kubeOf((server.address() as AddressInfo).port);
});
afterAll(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });

/** What `p` rejected with; a test fails when it resolves. */
async function failureOf<E = KubeError>(p: Promise<unknown>): Promise<E> {
  try { await p; } catch (err) { return err as E; }
  throw new Error('expected a failure, but it succeeded');
}

function json(res: ServerResponse, status: number, obj: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

describe('Kube requests', () => {
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
    const err = await failureOf(kubeOf(port).get(topics, 'ns', 'orders'));
    expect(err.code).toBe(KubeErrorCode.UNREACHABLE);
    expect(err.message).toContain('GET /apis/brook.dev/v1alpha1/namespaces/ns/topics/orders');
  });

  test('requestTimeoutMs gives up on an answer that does not come', async () => {
    handle = () => { /* never answers */ };
    const kc = kube.kc;
    const quick = new Kube(kc, { requestTimeoutMs: 200 });
    const started = Date.now();
    const err = await failureOf(quick.get(topics, 'ns', 'slow'));
    expect(err.code).toBe(KubeErrorCode.UNREACHABLE);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('Kube watch streams', () => {
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
      setTimeout(() => req.socket.destroy(), 50);
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
