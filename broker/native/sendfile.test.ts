import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SEND_FILE_SHORT, sendFileBinding, nativeUnavailableReason, type SendFileBinding } from './index.ts';

// The add-on is built by `npm test`'s ensure-deps step (--test makes it required): its absence is a failure here, not a skip.
const native = (): SendFileBinding => {
  if (!sendFileBinding) throw new Error(nativeUnavailableReason ?? 'the native add-on did not load');
  return sendFileBinding;
};

const fdOf = (s: Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;

let dir: string;
let file: string;
let fd: number;
const content = randomBytes(24 * 1024 * 1024 + 17);

beforeAll(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'brook-sendfile-'));
  file = join(dir, 'segment.log');
  fs.writeFileSync(file, content);
  fd = fs.openSync(file, 'r');
});
afterAll(() => {
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A loopback pair: `server` is the accepted side (what Brook sends on), `client` reads.
 * `endAndReceive()` ends the server side and resolves with everything the client got.
 */
async function pair(): Promise<{ server: Socket; client: Socket; listener: Server; received: () => Buffer; ended: Promise<void>; endAndReceive: () => Promise<Buffer> }> {
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => listener.once('connection', r));
  const client = connect({ port: (listener.address() as { port: number }).port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  client.on('error', () => {});
  const ended = new Promise<void>((r) => client.once('close', () => r()));
  const server = await accepted;
  server.on('error', () => {});
  const received = (): Buffer => Buffer.concat(chunks);
  const endAndReceive = async (): Promise<Buffer> => {
    server.end();
    await ended;
    return received();
  };
  return { server, client, listener, received, ended, endAndReceive };
}

type Part = Buffer | { fd: number; position: number; length: number };

function sendParts(server: Socket, parts: Part[]): Promise<{ code: number; sent: number }> {
  return new Promise((resolve) => native().send(fdOf(server), parts, (code, sent) => resolve({ code, sent })));
}

function send(server: Socket, position: number, length: number, fileFd = fd): Promise<{ code: number; sent: number }> {
  return sendParts(server, [{ fd: fileFd, position, length }]);
}

const bytesOf = (parts: Part[]): Buffer =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : content.subarray(p.position, p.position + p.length))));

describe('native send: Buffers and file ranges to a socket with sendmsg(2) and sendfile(2), off the event loop', () => {
  test.each([
    ['nothing', 0, 0],
    ['one byte', 5, 1],
    ['1 MiB from an odd position', 12_345, 1 << 20],
    ['24 MiB, more than the socket buffer holds', 17, 24 * 1024 * 1024],
  ])('%s arrives byte for byte', async (_what, position, length) => {
    const { server, client, listener, endAndReceive } = await pair();
    try {
      const r = await send(server, position, length);
      expect(r).toEqual({ code: 0, sent: length });
      expect((await endAndReceive()).equals(content.subarray(position, position + length))).toBe(true);
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('a reader that stops for a while (the socket fills: the transfer waits for it to drain, on the event loop) still gets every byte', async () => {
    const { server, client, listener, endAndReceive } = await pair();
    try {
      client.pause();
      const transfer = send(server, 0, content.length);
      let settled = false;
      void transfer.then(() => { settled = true; });
      await sleep(300);
      expect(settled).toBe(false); // 24 MiB cannot fit in the socket buffers
      const timer = setInterval(() => {}, 5); // the event loop stays responsive meanwhile
      client.resume();
      expect(await transfer).toEqual({ code: 0, sent: content.length });
      clearInterval(timer);
      expect((await endAndReceive()).equals(content)).toBe(true);
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('12 connections at once (more than the 4 threads of libuv\'s pool), each with its reader paused a while: every transfer completes, each byte for byte', async () => {
    const pairs = await Promise.all(Array.from({ length: 12 }, () => pair()));
    try {
      const parts = pairs.map((_, i): Part[] => [Buffer.from(`conn-${i}:`), { fd, position: i * 1_000_003, length: 2 * 1024 * 1024 + i }, Buffer.from(':end')]);
      for (const p of pairs) p.client.pause();
      const transfers = pairs.map((p, i) => sendParts(p.server, parts[i]!));
      await sleep(100);
      for (const p of pairs) p.client.resume();
      const results = await Promise.all(transfers);
      for (const [i, r] of results.entries()) expect(r).toEqual({ code: 0, sent: bytesOf(parts[i]!).length });
      const received = await Promise.all(pairs.map((p) => p.endAndReceive()));
      for (const [i, bytes] of received.entries()) expect(bytes.equals(bytesOf(parts[i]!))).toBe(true);
    } finally {
      for (const p of pairs) {
        p.client.destroy();
        p.listener.close();
      }
    }
  });

  test('a range past the end of the file stops at the end with SEND_FILE_SHORT and what was sent', async () => {
    const { server, client, listener } = await pair();
    try {
      const r = await send(server, content.length - 100, 1000);
      expect(r).toEqual({ code: SEND_FILE_SHORT, sent: 100 });
    } finally {
      client.destroy();
      server.destroy();
      listener.close();
    }
  });

  test('a peer that goes away mid-transfer ends it with an errno, not a hang', async () => {
    const { server, client, listener } = await pair();
    try {
      client.pause();
      const transfer = send(server, 0, content.length);
      await sleep(50);
      client.resetAndDestroy();
      const r = await transfer;
      expect([constants.errno.EPIPE, constants.errno.ECONNRESET]).toContain(r.code);
      expect(r.sent).toBeLessThan(content.length);
    } finally {
      server.destroy();
      listener.close();
    }
  });

  test('cancel ends a transfer stuck on a reader that never reads; the socket then really closes (the duplicate descriptor is gone)', async () => {
    const { server, client, listener, ended } = await pair();
    try {
      client.pause();
      let handle: ReturnType<SendFileBinding['send']> | null = null;
      const transfer = new Promise<{ code: number; sent: number }>((resolve) => {
        handle = native().send(fdOf(server), [{ fd, position: 0, length: content.length }], (code, sent) => resolve({ code, sent }));
      });
      await sleep(100);
      server.destroy(); // Node closes its descriptor; the transfer's duplicate keeps the socket open until cancelled
      native().cancel(handle!);
      const r = await transfer;
      expect(r.code).toBe(constants.errno.ECANCELED);
      client.resume();
      await ended; // the peer sees the connection end
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('Buffers and file ranges mixed, as a Fetch response with many partitions, arrive in order byte for byte', async () => {
    const { server, client, listener, endAndReceive } = await pair();
    try {
      const parts: Part[] = [];
      let position = 3;
      for (let i = 0; i < 40; i++) {
        parts.push(randomBytes(i % 7 === 0 ? 0 : 20 + i)); // a partition's header (some empty)
        const length = i % 5 === 0 ? 0 : (i * 37_411) % (2 << 20); // its records, up to 2 MiB (some empty)
        parts.push({ fd, position, length });
        position = (position + length + 1) % (content.length - (2 << 20));
      }
      parts.push(randomBytes(9)); // a tail
      client.pause(); // the socket fills: the transfer waits for it, more than once
      const transfer = sendParts(server, parts);
      await sleep(100);
      client.resume();
      const expected = bytesOf(parts);
      expect(await transfer).toEqual({ code: 0, sent: expected.length });
      expect((await endAndReceive()).equals(expected)).toBe(true);
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('a transfer of Buffers only, and an empty one: the callback runs after send() returns, never inside it', async () => {
    const { server, client, listener, endAndReceive } = await pair();
    try {
      let returned = false;
      const empty = new Promise<{ code: number; sent: number; after: boolean }>((resolve) => {
        native().send(fdOf(server), [], (code, sent) => resolve({ code, sent, after: returned }));
        returned = true;
      });
      expect(await empty).toEqual({ code: 0, sent: 0, after: true });
      const parts = [Buffer.from('abc'), Buffer.alloc(0), randomBytes(3 * 1024 * 1024), Buffer.from('xyz')];
      expect(await sendParts(server, parts)).toEqual({ code: 0, sent: 6 + 3 * 1024 * 1024 });
      expect((await endAndReceive()).equals(Buffer.concat(parts))).toBe(true);
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('a file range past the end stops the transfer there: what follows it is not sent', async () => {
    const { server, client, listener, received } = await pair();
    try {
      const r = await sendParts(server, [Buffer.from('head'), { fd, position: content.length - 10, length: 100 }, Buffer.from('never')]);
      expect(r).toEqual({ code: SEND_FILE_SHORT, sent: 14 });
      await sleep(50);
      expect(received().equals(Buffer.concat([Buffer.from('head'), content.subarray(content.length - 10)]))).toBe(true);
    } finally {
      client.destroy();
      server.destroy();
      listener.close();
    }
  });

  test('bad arguments are errors, not crashes', () => {
    const send = native().send as (...a: unknown[]) => unknown;
    expect(() => send(-1, [{ fd, position: 0, length: 1 }], () => {})).toThrow(/socketFd/);
    expect(() => send(0, [{ fd, position: -1, length: 1 }], () => {})).toThrow(/position/);
    expect(() => send(0, [{ fd: -2, position: 0, length: 1 }], () => {})).toThrow(/fd must be a descriptor/);
    expect(() => send(0, [{ fd, position: 0 }], () => {})).toThrow(/a Buffer or \{ fd, position, length \}/);
    expect(() => send(0, ['text'], () => {})).toThrow(/a Buffer or/);
    expect(() => send(0, Buffer.alloc(1), () => {})).toThrow(/parts must be an array/);
    expect(() => send(0, [], 'callback')).toThrow(/callback must be a function/);
    expect(() => send(0, [])).toThrow(/send\(socketFd, parts, callback\)/);
  });
});

describe('native setSendBuffer: SO_SNDBUF, which Node cannot set on a TCP socket', () => {
  test('sets the accepted socket\'s send buffer and returns what the kernel now holds (Linux doubles it); a full socket sends every byte through it', async () => {
    const p = await pair();
    expect(native().setSendBuffer(fdOf(p.server), 32768)).toBe(65536);
    expect(native().setSendBuffer(fdOf(p.server), 100000)).toBe(200000);
    p.client.pause();
    const sending = send(p.server, 0, 4 * 1024 * 1024);
    await sleep(100);
    p.client.resume();
    expect(await sending).toEqual({ code: 0, sent: 4 * 1024 * 1024 });
    expect((await p.endAndReceive()).equals(content.subarray(0, 4 * 1024 * 1024))).toBe(true);
    p.listener.close();
  });

  test('a descriptor that is not a socket is an error with its errno; bad arguments are errors', () => {
    let thrown: (Error & { errno?: number }) | undefined;
    try {
      native().setSendBuffer(fd, 65536); // the segment file
    } catch (err) {
      thrown = err as Error & { errno?: number };
    }
    expect(thrown?.message).toMatch(/setsockopt\(SO_SNDBUF\) failed/);
    expect(thrown?.errno).toBe(constants.errno.ENOTSOCK);
    const set = native().setSendBuffer as (...a: unknown[]) => unknown;
    expect(() => set(-1, 65536)).toThrow(/socketFd must be a descriptor/);
    expect(() => set(0, 0)).toThrow(/bytes must be a positive int32/);
    expect(() => set(0, 'big')).toThrow(/bytes must be a positive int32/);
    expect(() => set(0)).toThrow(/socketFd|bytes/);
  });
});
