import { describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, type FrameSink } from './connection.ts';

/** A real loopback socket pair: the server side wrapped in a Connection whose sink keeps every frame. */
async function pair(maxFrameBytes: number): Promise<{ client: Socket; frames: Buffer[]; rejected: string[]; server: Server }> {
  const frames: Buffer[] = [];
  const rejected: string[] = [];
  const sink: FrameSink = {
    handleFrame: (frame) => { frames.push(Buffer.from(frame)); return null; },
    malformed: (_conn, reason) => { rejected.push(reason); },
    failed: () => {},
    closed: () => {},
  };
  const server = createServer((socket) => { new Connection(socket, sink, maxFrameBytes); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { client, frames, rejected, server };
}

function framed(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('Connection framing over a real socket', () => {
  test('frames cut at every kind of boundary (inside the size, inside the body, several per chunk) arrive whole and in order', async () => {
    const { client, frames, rejected, server } = await pair(1 << 20);
    try {
      // Sizes from empty to several socket chunks (a read is at most 64 KiB).
      const payloads = [0, 1, 3, 4, 5, 100, 65_535, 65_536, 65_537, 200_000, 7, 131_072, 2, 300_001].map((n) => randomBytes(n));
      const stream = Buffer.concat(payloads.map(framed));
      // Cut the byte stream at pseudo-random points, some a byte apart (splitting a size prefix),
      // and pause between writes so the server sees them as separate chunks.
      let seed = 7;
      const next = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
      let at = 0;
      while (at < stream.length) {
        const step = next() % 4 === 0 ? 1 + (next() % 3) : 1 + (next() % 90_000);
        client.write(stream.subarray(at, Math.min(stream.length, at + step)));
        at += step;
        await sleep(1);
      }
      await until(() => frames.length === payloads.length, `${payloads.length} frames`);
      expect(rejected).toEqual([]);
      frames.forEach((frame, i) => expect(frame.equals(payloads[i]!)).toBe(true));
    } finally {
      client.destroy();
      server.close();
    }
  });

  test('the bytes after a frame that spanned chunks are not lost or reordered when the next frame is in the same chunk', async () => {
    const { client, frames, server } = await pair(1 << 20);
    try {
      const big = randomBytes(100_000);
      const smalls = [randomBytes(10), randomBytes(20), randomBytes(30)];
      const stream = Buffer.concat([framed(big), ...smalls.map(framed)]);
      // First write ends inside the big frame; the second holds its end and all three small frames.
      client.write(stream.subarray(0, 50_000));
      await sleep(20);
      client.write(stream.subarray(50_000));
      await until(() => frames.length === 4, '4 frames');
      expect(frames[0]!.equals(big)).toBe(true);
      smalls.forEach((s, i) => expect(frames[i + 1]!.equals(s)).toBe(true));
    } finally {
      client.destroy();
      server.close();
    }
  });

  test('a frame size above the limit is rejected and nothing of it is dispatched', async () => {
    const { client, frames, rejected, server } = await pair(1000);
    try {
      client.write(framed(randomBytes(1001)));
      await until(() => rejected.length === 1, 'the rejection');
      expect(rejected).toEqual(['frame_size']);
      expect(frames).toEqual([]);
    } finally {
      client.destroy();
      server.close();
    }
  });
});
