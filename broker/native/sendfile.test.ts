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

/** A loopback pair: `server` is the accepted side (what Brook sends on), `client` reads. */
async function pair(): Promise<{ server: Socket; client: Socket; listener: Server; received: () => Buffer; ended: Promise<void> }> {
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
  return { server, client, listener, received: () => Buffer.concat(chunks), ended };
}

function send(server: Socket, position: number, length: number, fileFd = fd): Promise<{ code: number; sent: number }> {
  return new Promise((resolve) => native().sendFile(fdOf(server), fileFd, position, length, (code, sent) => resolve({ code, sent })));
}

describe('native sendFile: a file range to a socket with sendfile(2), off the event loop', () => {
  test.each([
    ['nothing', 0, 0],
    ['one byte', 5, 1],
    ['1 MiB from an odd position', 12_345, 1 << 20],
    ['24 MiB, more than the socket buffer holds', 17, 24 * 1024 * 1024],
  ])('%s arrives byte for byte', async (_what, position, length) => {
    const { server, client, listener, received, ended } = await pair();
    try {
      const r = await send(server, position, length);
      expect(r).toEqual({ code: 0, sent: length });
      server.end();
      await ended;
      expect(received().equals(content.subarray(position, position + length))).toBe(true);
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('a reader that stops for a while (the socket fills: the transfer waits for it to drain, on the event loop) still gets every byte', async () => {
    const { server, client, listener, received, ended } = await pair();
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
      server.end();
      await ended;
      expect(received().equals(content)).toBe(true);
    } finally {
      client.destroy();
      listener.close();
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
      let handle: ReturnType<SendFileBinding['sendFile']> | null = null;
      const transfer = new Promise<{ code: number; sent: number }>((resolve) => {
        handle = native().sendFile(fdOf(server), fd, 0, content.length, (code, sent) => resolve({ code, sent }));
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

  test('the file descriptor may be closed once the transfer started: it holds its own', async () => {
    const { server, client, listener, received, ended } = await pair();
    try {
      const own = fs.openSync(file, 'r');
      client.pause();
      const transfer = send(server, 1, 8 * 1024 * 1024, own);
      fs.closeSync(own);
      client.resume();
      expect(await transfer).toEqual({ code: 0, sent: 8 * 1024 * 1024 });
      server.end();
      await ended;
      expect(received().equals(content.subarray(1, 1 + 8 * 1024 * 1024))).toBe(true);
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test('bad arguments are errors, not crashes', () => {
    expect(() => native().sendFile(-1, fd, 0, 1, () => {})).toThrow(/socketFd/);
    expect(() => native().sendFile(0, fd, -1, 1, () => {})).toThrow(/position/);
    expect(() => (native().sendFile as (...a: unknown[]) => unknown)(0, fd, 0, 1)).toThrow(/sendFile\(/);
  });
});
