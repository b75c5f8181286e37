/**
 * Connection: one client TCP connection speaking Kafka's framing — each request is an int32 size
 * followed by that many bytes. Requests are dispatched in arrival order as soon as they are
 * complete (pipelining); responses are written strictly in request order, whenever each one is
 * ready. A frame with a negative or oversized length, or a header that cannot be parsed, closes
 * this connection only (and is counted); nothing else is affected. Reading pauses while too many
 * responses are outstanding or the socket's write buffer is full (backpressure).
 */
import type { Socket } from 'node:net';

const MAX_IN_FLIGHT = 256;

export interface FrameSink {
  /**
   * Handles one frame (without its size prefix). Returns the response chunks, or null when the
   * request gets no response (acks=0 produce). Throwing closes the connection.
   */
  handleFrame(frame: Buffer, conn: Connection): Promise<Buffer[] | null> | Buffer[] | null;
  /** Called when a frame is rejected before dispatch; reason is a short metric label. */
  malformed(conn: Connection, reason: string, detail: string): void;
  failed(conn: Connection, err: unknown): void;
  closed(conn: Connection): void;
  /**
   * Called once the socket is done with a response's chunks (written, or dropped with a failed
   * connection), so that buffers they view may be reused. Never called for a response that was
   * not handed to the socket.
   */
  written?(response: Buffer[]): void;
}

interface Slot { done: boolean; response: Buffer[] | null }

export class Connection {
  readonly socket: Socket;
  readonly remote: string;
  private readonly sink: FrameSink;
  /** The largest frame accepted now (a SASL listener lowers it until the client authenticated). */
  maxFrameBytes: number;
  /** Set by endAfterResponses(): no more requests are read; the socket ends once every response is written. */
  private ending = false;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly slots: Slot[] = [];
  private closing = false;
  private drainWaiters: Array<() => void> = [];

  constructor(socket: Socket, sink: FrameSink, maxFrameBytes: number) {
    this.socket = socket;
    this.sink = sink;
    this.maxFrameBytes = maxFrameBytes;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', () => { /* reset by peer etc.: 'close' follows */ });
    socket.on('close', () => {
      this.closing = true;
      this.sink.closed(this);
      this.notifyDrained();
    });
  }

  get inFlight(): number { return this.slots.length; }

  private onData(chunk: Buffer): void {
    if (this.closing || this.ending) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4 && !this.closing && !this.ending) {
      const size = this.peekInt32();
      if (size < 0 || size > this.maxFrameBytes) {
        this.reject('frame_size', `frame size ${size} outside 0..${this.maxFrameBytes}`);
        return;
      }
      if (this.buffered < size + 4) break;
      const frame = this.take(size + 4).subarray(4);
      this.dispatch(frame);
    }
    if (this.slots.length >= MAX_IN_FLIGHT) this.socket.pause();
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return this.peekBytes(4).readInt32BE(0);
  }

  private peekBytes(n: number): Buffer {
    const merged = Buffer.concat(this.chunks);
    this.chunks = [merged];
    return merged.subarray(0, n);
  }

  /**
   * Removes and returns the first n buffered bytes. A frame within one chunk is a view of it; a
   * frame spanning chunks is copied once into a buffer of exactly its size, and the bytes after it
   * stay where they are (a view of the last chunk it touched), so no byte is copied twice.
   */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      let used = 0;
      while (filled < n) {
        const chunk = this.chunks[used]!;
        const part = Math.min(chunk.length, n - filled);
        chunk.copy(out, filled, 0, part);
        filled += part;
        if (part === chunk.length) used++;
        else this.chunks[used] = chunk.subarray(part);
      }
      this.chunks.splice(0, used);
    }
    this.buffered -= n;
    return out;
  }

  private dispatch(frame: Buffer): void {
    const slot: Slot = { done: false, response: null };
    this.slots.push(slot);
    let result: Promise<Buffer[] | null> | Buffer[] | null;
    try {
      result = this.sink.handleFrame(frame, this);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result instanceof Promise) {
      result.then((response) => this.complete(slot, response), (err) => this.fail(err));
    } else {
      this.complete(slot, result);
    }
  }

  private complete(slot: Slot, response: Buffer[] | null): void {
    slot.done = true;
    slot.response = response;
    this.flush();
  }

  private flush(): void {
    if (this.closing) return;
    let written: Buffer[][] | null = null;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const { response } = this.slots.shift()!;
      if (response && response.length > 0) (written ??= []).push(response);
    }
    if (written !== null) {
      const sink = this.sink;
      const done = written;
      this.socket.cork();
      for (let i = 0; i < done.length; i++) {
        const response = done[i]!;
        const last = i === done.length - 1 ? response.length - 1 : -1;
        for (let j = 0; j < response.length; j++) {
          // One callback for the whole writev, on its last chunk: it runs when the socket no
          // longer needs any of them (written, or the connection failed).
          if (j === last && sink.written) this.socket.write(response[j]!, () => { for (const r of done) sink.written!(r); });
          else this.socket.write(response[j]!);
        }
      }
      this.socket.uncork();
    }
    if (this.socket.writableLength >= 4 * 1024 * 1024) this.socket.pause();
    else this.maybeResume();
    if (this.slots.length === 0) {
      if (this.ending) {
        this.closing = true;
        this.socket.end();
      }
      this.notifyDrained();
    }
  }

  /**
   * Answers what was dispatched so far, then closes (a failed SASL exchange: Kafka sends the
   * error response, then closes the connection). Nothing after this is read.
   */
  endAfterResponses(): void {
    this.ending = true;
    this.chunks = [];
    this.buffered = 0;
  }

  private maybeResume(): void {
    if (this.closing) return;
    if (this.slots.length < MAX_IN_FLIGHT && this.socket.writableLength < 4 * 1024 * 1024 && this.socket.isPaused()) {
      this.socket.resume();
    }
  }

  private reject(reason: string, detail: string): void {
    this.sink.malformed(this, reason, detail);
    this.destroy();
  }

  private fail(err: unknown): void {
    if (this.closing) return;
    this.sink.failed(this, err);
    this.destroy();
  }

  /** Closes the connection now, dropping unanswered requests. */
  destroy(): void {
    this.closing = true;
    this.chunks = [];
    this.buffered = 0;
    this.socket.destroy();
    this.notifyDrained();
  }

  /** Stops reading new requests and resolves once every dispatched request has been answered. */
  drain(): Promise<void> {
    this.socket.pause();
    if (this.slots.length === 0 || this.closing) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
