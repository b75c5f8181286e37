/**
 * Connection with responses holding FileRegions (sent with sendfile through the native add-on),
 * over real loopback sockets: bytes and regions leave in order, responses stay in request order,
 * each response is given back (`written`) exactly once, and a region that cannot be sent whole
 * closes the connection instead of sending a short frame.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileRegion, type Chunk } from '../protocol/file-region.ts';
import { Connection, type FrameSink } from './connection.ts';

let dir: string;
let fd: number;
const file = randomBytes(6 * 1024 * 1024);

beforeAll(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'brook-connection-files-'));
  fs.writeFileSync(join(dir, 'data'), file);
  fd = fs.openSync(join(dir, 'data'), 'r');
});
afterAll(() => {
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  client: Socket;
  server: Server;
  conn: () => Connection;
  received: () => Buffer;
  written: Chunk[][];
  released: FileRegion[];
  failures: string[];
  closed: Promise<void>;
}

/** `answer(n)` is the response to the n-th request (requests are 4-byte frames holding n). */
async function harness(answer: (n: number, regions: FileRegion[]) => Promise<Chunk[]> | Chunk[]): Promise<Harness> {
  const written: Chunk[][] = [];
  const released: FileRegion[] = [];
  const failures: string[] = [];
  let connection: Connection | null = null;
  const sink: FrameSink = {
    handleFrame: (frame) => answer(frame.readInt32BE(0), released),
    malformed: () => {},
    failed: (_c, err) => { failures.push((err as Error).message); },
    closed: () => {},
    written: (response) => {
      written.push(response);
      for (const c of response) if (c instanceof FileRegion) c.release();
    },
  };
  const server = createServer((socket) => { connection = new Connection(socket, sink, 1 << 20); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  client.on('error', () => {});
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  await new Promise<void>((r) => client.once('connect', r));
  return { client, server, conn: () => connection!, received: () => Buffer.concat(chunks), written, released, failures, closed };
}

function request(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(4, 0);
  b.writeInt32BE(n, 4);
  return b;
}

function region(position: number, length: number, released: FileRegion[]): FileRegion {
  const r: FileRegion = new FileRegion(fd, position, length, () => released.push(r));
  return r;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('Connection sending file regions', () => {
  test('bytes, regions and whole responses leave in request order; each response is given back once, after it was sent', async () => {
    const expected: Buffer[] = [];
    const h = await harness(async (n, released) => {
      const head = Buffer.from(`head ${n};`);
      const tail = Buffer.from(`;tail ${n}`);
      // some answers are late, some bytes-only, some end or start with a region
      if (n % 3 === 0) await sleep(5 * (n % 4));
      const position = (n * 333_333) % (file.length - 1_100_000);
      const length = 1 + ((n * 77_777) % 1_000_000);
      switch (n % 4) {
        case 0: return [head, tail];
        case 1: return [head, region(position, length, released), tail];
        case 2: return [head, region(position, length, released), region(0, 1000, released), tail, Buffer.from('!')];
        default: return [head, region(position, length, released)];
      }
    });
    try {
      expect(h.conn().sendsFiles).toBe(true);
      for (let n = 0; n < 40; n++) {
        const position = (n * 333_333) % (file.length - 1_100_000);
        const length = 1 + ((n * 77_777) % 1_000_000);
        const head = Buffer.from(`head ${n};`);
        const tail = Buffer.from(`;tail ${n}`);
        const part = file.subarray(position, position + length);
        expected.push(n % 4 === 0 ? Buffer.concat([head, tail])
          : n % 4 === 1 ? Buffer.concat([head, part, tail])
            : n % 4 === 2 ? Buffer.concat([head, part, file.subarray(0, 1000), tail, Buffer.from('!')])
              : Buffer.concat([head, part]));
      }
      h.client.write(Buffer.concat(expected.map((_, n) => request(n))));
      const want = Buffer.concat(expected);
      await until(() => h.received().length >= want.length && h.written.length === expected.length, 'every response');
      expect(h.received().equals(want)).toBe(true);
      expect(h.failures).toEqual([]);
      // given back once each; every region released once
      expect(new Set(h.written).size).toBe(expected.length);
      const regions = h.written.flat().filter((c) => c instanceof FileRegion);
      expect(h.released.length).toBe(regions.length);
      expect(new Set(h.released).size).toBe(regions.length);
    } finally {
      h.client.destroy();
      h.server.close();
    }
  });

  test('bytes still queued in a full socket leave before the region after them', async () => {
    const big = randomBytes(8 * 1024 * 1024); // more than the socket takes while the client is not reading
    const h = await harness((n, released) => (n === 0 ? [big] : [Buffer.from('head;'), region(12_345, 2 * 1024 * 1024, released), Buffer.from(';tail')]));
    try {
      h.client.pause();
      h.client.write(Buffer.concat([request(0), request(1)]));
      await sleep(200);
      h.client.resume();
      const want = Buffer.concat([big, Buffer.from('head;'), file.subarray(12_345, 12_345 + 2 * 1024 * 1024), Buffer.from(';tail')]);
      await until(() => h.received().length >= want.length && h.written.length === 2, 'both responses');
      expect(h.received().equals(want)).toBe(true);
    } finally {
      h.client.destroy();
      h.server.close();
    }
  });

  test('a region the file cannot fill (truncated under it) closes the connection instead of sending a short frame', async () => {
    const h = await harness((_n, released) => [Buffer.from('head;'), region(file.length - 10, 100, released), Buffer.from(';tail')]);
    try {
      h.client.write(request(1));
      await h.closed;
      expect(h.received().equals(Buffer.concat([Buffer.from('head;'), file.subarray(file.length - 10)]))).toBe(true);
      await until(() => h.written.length === 1, 'the response given back');
      expect(h.released.length).toBe(1);
      expect(h.failures.join()).toMatch(/the file ended after 10 of 100 bytes/);
    } finally {
      h.client.destroy();
      h.server.close();
    }
  });

  test('a client that stops reading and goes away: every queued response is given back, every region released', async () => {
    const h = await harness((n, released) => [Buffer.from(`h${n}`), region(0, file.length, released), Buffer.from(`t${n}`)]);
    try {
      h.client.pause();
      h.client.write(Buffer.concat([0, 1, 2, 3, 4].map(request)));
      await sleep(300); // the first 6 MiB region fills the socket; the rest wait behind it
      expect(h.written.length).toBe(0);
      h.client.destroy();
      await until(() => h.written.length === 5, 'all five responses given back');
      expect(h.released.length).toBe(5);
    } finally {
      h.server.close();
    }
  });

  test('with sendFiles off a connection never sends files (and says so)', async () => {
    const server = createServer((socket) => {
      const c = new Connection(socket, { handleFrame: () => null, malformed: () => {}, failed: () => {}, closed: () => {} }, 1 << 20, { sendFiles: false });
      server.emit('made', c);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const made = new Promise<Connection>((r) => server.once('made', r));
    const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
    try {
      expect((await made).sendsFiles).toBe(false);
    } finally {
      client.destroy();
      server.close();
    }
  });
});
