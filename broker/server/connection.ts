/**
 * Connection: one client TCP connection speaking Kafka's framing — each request is an int32 size
 * followed by that many bytes. Requests are dispatched in arrival order as soon as they are
 * complete (pipelining); responses are written strictly in request order, whenever each one is
 * ready. A frame with a negative or oversized length, or a header that cannot be parsed, closes
 * this connection only (and is counted); nothing else is affected. Reading pauses while too many
 * responses are outstanding or the socket's write buffer is full (backpressure).
 *
 * A connection that `sendsFiles` (plain TCP, the native add-on loaded: broker/native/) may be
 * given responses holding FileRegions (Fetch records left in the page cache). Once the socket has
 * taken every write before them, such responses (and any queued behind them) go to the native
 * add-on whole, as one transfer on libuv's pool: their Buffers with sendmsg(2), their regions with
 * sendfile(2), in order; what follows waits for it. A region cut short (the file truncated under
 * it) or a send that fails closes the connection: a response frame is never sent short.
 */
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { TLSSocket } from 'node:tls';
import { FileRegion, type Chunk } from '../protocol/file-region.ts';
import { SEND_FILE_SHORT, sendFileBinding, socketFd, type SendFileHandle } from '../native/index.ts';

const MAX_IN_FLIGHT = 256;

export interface FrameSink {
  /**
   * Handles one frame (without its size prefix). Returns the response chunks, or null when the
   * request gets no response (acks=0 produce). Throwing closes the connection.
   */
  handleFrame(frame: Buffer, conn: Connection): Promise<Chunk[] | null> | Chunk[] | null;
  /** Called when a frame is rejected before dispatch; reason is a short metric label. */
  malformed(conn: Connection, reason: string, detail: string): void;
  failed(conn: Connection, err: unknown): void;
  closed(conn: Connection): void;
  /**
   * Called once the socket is done with a response's chunks (written, or dropped with a failed
   * connection), so that buffers they view may be reused. Never called for a response that was
   * not handed to the socket.
   */
  written?(response: Chunk[]): void;
}

interface Slot { done: boolean; response: Chunk[] | null }

/** The socket's descriptor when sendfile can write to it: plain TCP (not TLS) with the add-on loaded. */
function fileSendingFd(socket: Socket): number | null {
  if (!sendFileBinding || socket instanceof TLSSocket) return null;
  return socketFd(socket);
}

function errnoName(code: number): string {
  return Object.entries(osConstants.errno).find(([, n]) => n === code)?.[0] ?? `errno ${code}`;
}

export interface ConnectionOptions {
  /** Let responses carry FileRegions where the socket allows it (default true). */
  sendFiles?: boolean;
}

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
  /** Whether responses may hold FileRegions (see the top). */
  readonly sendsFiles: boolean;
  /** Whole responses waiting for the native add-on (see the top), in order; empty while none holds a region. */
  private queue: Chunk[][] = [];
  /** Responses in `queue` or `sending` (they count toward MAX_IN_FLIGHT). */
  private queuedResponses = 0;
  /** Corked socket writes whose callback has not run yet. */
  private writesInFlight = 0;
  /** The native transfer under way, and the responses it holds. */
  private sending: { handle: SendFileHandle; responses: Chunk[][] } | null = null;

  constructor(socket: Socket, sink: FrameSink, maxFrameBytes: number, opts: ConnectionOptions = {}) {
    this.socket = socket;
    this.sink = sink;
    this.maxFrameBytes = maxFrameBytes;
    this.sendsFiles = (opts.sendFiles ?? true) && fileSendingFd(socket) !== null;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', () => { /* reset by peer etc.: 'close' follows */ });
    socket.on('close', () => {
      this.closing = true;
      this.dropQueue();
      this.sink.closed(this);
      this.notifyDrained();
    });
  }

  get inFlight(): number { return this.slots.length + this.queuedResponses; }

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
    if (this.inFlight >= MAX_IN_FLIGHT) this.socket.pause();
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
    let result: Promise<Chunk[] | null> | Chunk[] | null;
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

  private complete(slot: Slot, response: Chunk[] | null): void {
    slot.done = true;
    slot.response = response;
    this.flush();
  }

  private flush(): void {
    if (this.closing) return;
    let written: Chunk[][] | null = null;
    let regions = false;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const { response } = this.slots.shift()!;
      if (response && response.length > 0) {
        (written ??= []).push(response);
        if (!regions) regions = response.some((c) => c instanceof FileRegion);
      }
    }
    if (written !== null) {
      if (regions || this.queue.length > 0 || this.sending !== null) {
        for (const response of written) this.queue.push(response);
        this.queuedResponses += written.length;
        this.pump();
      } else {
        this.writeCorked(written as Buffer[][]);
      }
    }
    this.afterWrites();
  }

  /**
   * Writes responses of Buffers in one corked writev. One callback for the whole writev, on its
   * last chunk: it runs when the socket no longer needs any of them (written, or the connection
   * failed), gives each response to `sink.written`, and starts what waited for the socket.
   */
  private writeCorked(responses: Buffer[][]): void {
    this.writesInFlight++;
    this.writeChunks(responses, () => {
      this.writesInFlight--;
      if (this.sink.written) for (const r of responses) this.sink.written(r);
      if (this.queue.length > 0) {
        this.pump();
        this.afterWrites();
      }
    });
  }

  /** Writes the chunks of `groups` corked, in order; `done` runs once the socket no longer needs any of them. */
  private writeChunks(groups: Buffer[][], done: () => void): void {
    this.socket.cork();
    for (let i = 0; i < groups.length; i++) {
      const chunks = groups[i]!;
      const last = i === groups.length - 1 ? chunks.length - 1 : -1;
      for (let j = 0; j < chunks.length; j++) {
        if (j === last) this.socket.write(chunks[j]!, done);
        else this.socket.write(chunks[j]!);
      }
    }
    this.socket.uncork();
  }

  /** Backpressure, and the end of an ending connection, once nothing is left to write. */
  private afterWrites(): void {
    if (this.closing) return;
    if (this.socket.writableLength >= 4 * 1024 * 1024) this.socket.pause();
    else this.maybeResume();
    if (this.slots.length === 0 && this.queue.length === 0 && this.sending === null) {
      if (this.ending) {
        this.closing = true;
        this.socket.end();
      }
      this.notifyDrained();
    }
  }

  /**
   * Hands every queued response to the native add-on as one transfer, once the socket has taken
   * every write before them (the transfer writes to the socket's descriptor itself).
   */
  private pump(): void {
    if (this.closing || this.sending !== null || this.queue.length === 0) return;
    if (this.writesInFlight > 0) return; // the last write's callback pumps again
    const fd = fileSendingFd(this.socket);
    if (fd === null) {
      this.fail(new Error('the socket can no longer send files'));
      return;
    }
    const responses = this.queue;
    const parts = responses.length === 1 ? responses[0]! : responses.flat();
    let handle: SendFileHandle;
    try {
      handle = sendFileBinding!.send(fd, parts, (code, sent) => this.transferred(responses, parts, code, sent));
    } catch (err) {
      // nothing was sent (no descriptor left to duplicate, ...): the connection cannot go on
      this.fail(err);
      return;
    }
    this.queue = [];
    this.sending = { handle, responses };
  }

  private transferred(responses: Chunk[][], parts: Chunk[], code: number, sent: number): void {
    this.sending = null;
    this.queuedResponses -= responses.length;
    if (this.sink.written) for (const r of responses) this.sink.written(r);
    if (code !== 0) {
      if (!this.closing) {
        let total = 0;
        let stoppedIn: Chunk | null = null;
        let before = 0;
        for (const c of parts) {
          if (stoppedIn === null && total + c.length > sent) { stoppedIn = c; before = total; }
          total += c.length;
        }
        const why = code === SEND_FILE_SHORT && stoppedIn !== null
          ? `the file ended after ${sent - before} of ${stoppedIn.length} bytes of a region (truncated while being sent)`
          : errnoName(code);
        this.fail(new Error(`sending ${responses.length} response(s) of ${total} bytes to ${this.remote} failed after ${sent}: ${why}`));
      }
      return;
    }
    this.pump();
    this.afterWrites();
  }

  /** The connection is gone: what is queued will not be sent; its responses are released. */
  private dropQueue(): void {
    if (this.sending) sendFileBinding!.cancel(this.sending.handle); // its callback releases its responses
    const queued = this.queue;
    this.queue = [];
    this.queuedResponses -= queued.length;
    if (this.sink.written) for (const r of queued) this.sink.written(r);
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
    if (this.inFlight < MAX_IN_FLIGHT && this.socket.writableLength < 4 * 1024 * 1024 && this.socket.isPaused()) {
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
    this.dropQueue();
    this.socket.destroy();
    this.notifyDrained();
  }

  /** Stops reading new requests and resolves once every dispatched request has been answered. */
  drain(): Promise<void> {
    this.socket.pause();
    if ((this.slots.length === 0 && this.queue.length === 0 && this.sending === null) || this.closing) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
