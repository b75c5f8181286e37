/**
 * socket.send.buffer.bytes: a real broker (child process) sets SO_SNDBUF on the connections it
 * accepts, on a PLAINTEXT and on an SSL listener, and leaves the operating system's default with
 * -1 (its default). What the kernel holds for the broker's side of each connection is read with
 * `ss -tm` (iproute2), as an operator would check it. A value that is neither -1 nor positive
 * stops the broker at start-up with a message naming the setting.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { startBroker, stopAllBrokers, target, tempDir, type BrokerHandle } from '../harness/brook.ts';
import { makeTestPki, type TestPki } from '../harness/tls-pki.ts';

const SEND_BUFFER = 65536;

let pki: TestPki;
let sized: BrokerHandle;
let unsized: BrokerHandle;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  if (target !== 'brook') throw new Error('socket-send-buffer tests Brook\'s listener; run it against Brook');
  pki = makeTestPki(tempDir('brook-sndbuf-'));
  const ssl = { 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore, 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': pki.caCert };
  const listeners = [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SSL', protocol: 'SSL' }];
  [sized, unsized] = await Promise.all([
    startBroker({ listeners, set: { ...ssl, 'socket.send.buffer.bytes': String(SEND_BUFFER) } }),
    startBroker({ listeners, set: ssl }),
  ]);
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await stopAllBrokers();
});

/** The send buffer (skmem tb) of every established TCP socket whose local port is `port`: the server's side of its connections. */
function serverSendBuffers(port: number): number[] {
  const out = execFileSync('ss', ['-tmnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return [...out.matchAll(/\btb(\d+)/g)].map((m) => Number(m[1]));
}

async function connectPlain(port: number): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await once(socket, 'connect');
}

async function connectTls(port: number): Promise<void> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.caCert) });
  sockets.push(socket);
  await once(socket, 'secureConnect');
}

/** ss until the server's side of the connection shows (accept can lag the client's connect by a moment). */
async function buffersOnceAccepted(port: number): Promise<number[]> {
  for (let i = 0; i < 50; i++) {
    const tb = serverSendBuffers(port);
    if (tb.length > 0) return tb;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no established connection on port ${port} in ss`);
}

/** What this machine gives a loopback connection nobody sized: the broker with -1 must show the same. */
async function osDefaultSendBuffer(): Promise<number> {
  const server = net.createServer((s) => sockets.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await connectPlain(port);
  const [tb] = await buffersOnceAccepted(port);
  server.close();
  return tb!;
}

test('socket.send.buffer.bytes sets SO_SNDBUF on the connections a PLAINTEXT listener accepts (Linux reports it doubled)', async () => {
  const port = sized.listenerPorts!.PLAINTEXT!;
  await connectPlain(port);
  await connectPlain(port);
  const tb = await buffersOnceAccepted(port);
  expect(tb.length).toBe(2);
  expect(tb).toEqual([2 * SEND_BUFFER, 2 * SEND_BUFFER]);
});

test('socket.send.buffer.bytes applies to an SSL listener\'s connections too', async () => {
  const port = sized.listenerPorts!.SSL!;
  await connectTls(port);
  expect(await buffersOnceAccepted(port)).toEqual([2 * SEND_BUFFER]);
});

test('by default (-1) the broker leaves the operating system\'s send buffer', async () => {
  const osDefault = await osDefaultSendBuffer();
  expect(osDefault).not.toBe(2 * SEND_BUFFER);
  await connectPlain(unsized.listenerPorts!.PLAINTEXT!);
  await connectTls(unsized.listenerPorts!.SSL!);
  expect(await buffersOnceAccepted(unsized.listenerPorts!.PLAINTEXT!)).toEqual([osDefault]);
  expect(await buffersOnceAccepted(unsized.listenerPorts!.SSL!)).toEqual([osDefault]);
});

test.each(['0', '-2'])('socket.send.buffer.bytes=%s stops the broker at start-up, naming the setting', async (value) => {
  await expect(startBroker({ set: { 'socket.send.buffer.bytes': value }, readyTimeoutMs: 20_000 }))
    .rejects.toThrow(/socket\.send\.buffer\.bytes must be -1 \(the operating system's default\) or a positive number of bytes, got -?\d/);
});
