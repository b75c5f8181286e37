/**
 * H2Session: Kube's HTTP/2 transport (./client.ts) — node's own HTTP/2 client on one TLS
 * connection to the API server, every request and watch a stream on it, as client-go does.
 *
 * - The connection is opened on first use, with ALPN offering h2 and http/1.1; `offersH2` tells
 *   the caller which the server chose (Kube keeps undici for a server that does not speak h2).
 * - A session that closes, fails or is sent GOAWAY is dropped; the next request opens a new one.
 *   A stream that could not be started on a dying session is started once more on a new one
 *   (nothing was sent for it).
 * - Open streams keep the process alive; an idle session does not (its socket is unref'd), so a
 *   command-line tool that made requests can exit without closing the client.
 * - Aborting a request's signal (the caller's, or the client's request timeout) resets its stream
 *   and rejects with the signal's reason, also while the connection is still being opened.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { isIP } from 'node:net';
import { PassThrough } from 'node:stream';
import tls, { type ConnectionOptions, type TLSSocket } from 'node:tls';

/** A streamed answer's status and body (consumed once: iterate `body` or call `text`). */
export interface H2Answer {
  status: number;
  body: AsyncIterable<Buffer>;
  text(): Promise<string>;
}

/** A TLS handshake that has not finished after this long fails (the request's own signal may end it sooner). */
const CONNECT_TIMEOUT_MS = 30_000;
/** Flow-control windows, per stream and for the connection: a LIST of thousands of objects is not paced by 64 KiB updates. */
const STREAM_WINDOW = 4 << 20;
const SESSION_WINDOW = 16 << 20;

interface Live {
  session: ClientHttp2Session;
  /** Streams open on it: the socket is ref'd while there are any. */
  open: number;
}

export class H2Session {
  private live: Live | undefined;
  private opening: Promise<Live> | undefined;
  private readonly origin: string;
  private readonly tlsOptions: ConnectionOptions;
  private readonly host: string;
  private readonly port: number;

  constructor(origin: string, tlsOptions: ConnectionOptions) {
    this.origin = origin;
    this.tlsOptions = tlsOptions;
    const url = new URL(origin);
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || 443);
  }

  /** Connects; true when the server chose h2 (the connection is kept for the requests), false when not (it is closed). */
  async offersH2(): Promise<boolean> {
    const socket = await this.connectTls();
    if (socket.alpnProtocol !== 'h2') {
      socket.destroy();
      return false;
    }
    this.adopt(socket);
    return true;
  }

  /** One request; resolves with the whole answer. */
  async request(method: string, url: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined): Promise<{ status: number; text: string }> {
    const stream = await this.start(method, url, headers, body, signal);
    return await new Promise((resolve, reject) => {
      let status = 0;
      const parts: Buffer[] = [];
      // read from the start: the answer can end, and its stream close, before 'response' is emitted
      stream.on('data', (chunk: Buffer) => parts.push(chunk));
      stream.once('response', (h) => { status = Number(h[':status']); });
      stream.once('end', () => {
        const cut = cutShort(stream) ?? (status === 0 ? new Error('the answer ended without a status') : undefined);
        if (cut) reject(cut); else resolve({ status, text: Buffer.concat(parts).toString('utf8') });
      });
      stream.once('error', (err) => reject(signal?.aborted ? signal.reason : err));
    });
  }

  /** A request whose answer is read as it arrives (a watch); resolves once its status is known. */
  async open(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<H2Answer> {
    const stream = await this.start('GET', url, headers, undefined, signal);
    // Read through a pipe from now on: an iterator started on the stream only after a short answer
    // had ended and closed it fails with "Premature close".
    const out = new PassThrough();
    out.on('error', () => {}); // its reader gets the error from its iterator; nobody may be reading any more
    stream.on('data', (chunk: Buffer) => { if (!out.destroyed && !out.write(chunk)) stream.pause(); });
    out.on('drain', () => stream.resume());
    stream.once('end', () => { const cut = cutShort(stream); if (cut) out.destroy(cut); else out.end(); });
    stream.once('error', (err) => out.destroy(signal.aborted ? signal.reason as Error : err));
    return await new Promise<H2Answer>((resolve, reject) => {
      const fail = (err: Error) => reject(signal.aborted ? signal.reason : err);
      stream.once('error', fail);
      stream.once('response', (h) => {
        stream.off('error', fail);
        resolve({ status: Number(h[':status']), body: out, text: () => readText(out) });
      });
    });
  }

  private async start(method: string, url: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined): Promise<ClientHttp2Stream> {
    // every URL is the kubeconfig's server + a path; another origin would go to the wrong server
    if (!url.startsWith(this.origin)) throw new Error(`${url} is not on ${this.origin}, the API server this session connects to`);
    const path = url.slice(this.origin.length) || '/';
    const h: OutgoingHttpHeaders = { ...headers, ':method': method, ':path': path };
    let live = await untilAborted(this.get(), signal);
    let stream: ClientHttp2Stream;
    try {
      stream = live.session.request(h, { endStream: body === undefined, signal });
    } catch {
      // the session was closing or out of stream ids: nothing was sent, so start it on a new one
      this.drop(live);
      live = await untilAborted(this.get(), signal);
      stream = live.session.request(h, { endStream: body === undefined, signal });
    }
    if (live.open++ === 0) live.session.ref();
    stream.once('close', () => { if (--live.open === 0 && !live.session.destroyed) live.session.unref(); });
    // Errors after the answer reach whoever reads the body; this listener only keeps one that
    // nobody reads from being an uncaught 'error' event.
    stream.on('error', () => {});
    if (body !== undefined) stream.end(body);
    return stream;
  }

  /** Closes the session (streams on it finish first); a request after this opens a new one. */
  close(): void {
    const live = this.live;
    this.live = undefined;
    live?.session.close();
  }

  private get(): Promise<Live> {
    const live = this.live;
    if (live && !live.session.closed && !live.session.destroyed) return Promise.resolve(live);
    return this.opening ??= this.connectTls()
      .then((socket) => {
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          throw new Error(`${this.origin} no longer offers HTTP/2 (ALPN chose ${socket.alpnProtocol || 'nothing'})`);
        }
        return this.adopt(socket);
      })
      .finally(() => { this.opening = undefined; });
  }

  private adopt(socket: TLSSocket): Live {
    const session = http2.connect(this.origin, { createConnection: () => socket, settings: { initialWindowSize: STREAM_WINDOW, enablePush: false } });
    const live: Live = { session, open: 0 };
    // a failed session fails its streams, which their requests report; it is then replaced
    session.on('error', () => {});
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.once('close', () => this.drop(live));
    session.once('goaway', () => this.drop(live));
    session.unref();
    this.live = live;
    return live;
  }

  private drop(live: Live): void {
    if (this.live === live) this.live = undefined;
  }

  private connectTls(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        ...this.tlsOptions,
        host: this.host, port: this.port,
        ALPNProtocols: ['h2', 'http/1.1'],
        ...(this.tlsOptions.servername === undefined && isIP(this.host) === 0 ? { servername: this.host } : {}),
      });
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`no TLS handshake with ${this.origin} after ${CONNECT_TIMEOUT_MS / 1000} s`)));
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.setTimeout(0);
        socket.off('error', reject);
        resolve(socket);
      });
    });
  }
}

/**
 * The error of a stream that ended because its connection went away (node ends such a stream as if
 * the answer were complete, with the stream's reset code set), or undefined for a complete answer.
 */
function cutShort(stream: ClientHttp2Stream): Error | undefined {
  if (!stream.rstCode) return undefined;
  return Object.assign(new Error(`the connection closed before the answer was complete (HTTP/2 stream reset, code ${stream.rstCode})`), { code: 'ECONNRESET' });
}

async function readText(stream: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** `p`, or the signal's reason if it aborts first (`p` goes on: others may be waiting for it). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err as Error); },
    );
  });
}
