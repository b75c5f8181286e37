/**
 * Brook's native add-on (brook_native.c, built into build/brook_native.node by
 * scripts/build-native.mjs, which `npm start`, `npm test` and the image run): a response's bytes
 * and log segment ranges sent to a client's socket with sendmsg(2) and sendfile(2), off the event
 * loop; and a socket's send buffer size (socket.send.buffer.bytes), which Node's net cannot set.
 * Without the add-on (no C compiler where Brook was installed) `sendFileBinding` is null, Fetch
 * responses are read into memory and written, as on a TLS listener, and socket.send.buffer.bytes
 * is not applied; `nativeUnavailableReason` says why.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** code: 0 sent; -1 a file ended before its range did; else an errno (ECANCELED when cancelled). */
export type SendFileCallback = (code: number, bytesSent: number) => void;

/** A byte range of an open file (a FileRegion is one). */
export interface FilePart { readonly fd: number; readonly position: number; readonly length: number }

export interface SendFileBinding {
  /**
   * Sends `parts` to `socketFd` in order: Buffers as they are, file ranges with sendfile(2). The
   * callback runs once, never inside this call. The socket's descriptor is duplicated; each file
   * descriptor must stay open, and each Buffer unchanged, until the callback.
   */
  send(socketFd: number, parts: ReadonlyArray<Buffer | FilePart>, callback: SendFileCallback): SendFileHandle;
  /** Ends the transfer early; its callback then gets ECANCELED (unless it had already ended). */
  cancel(handle: SendFileHandle): void;
  /**
   * Sets the socket's send buffer (SO_SNDBUF) to `bytes` and returns its size as the kernel now
   * reports it (Linux doubles the value, and no longer autotunes that socket). Throws with
   * `errno` when the kernel refuses.
   */
  setSendBuffer(socketFd: number, bytes: number): number;
}

export type SendFileHandle = { readonly __brookSendFile: unique symbol };

/** The file's end came before the region's (it was truncated under the transfer). */
export const SEND_FILE_SHORT = -1;

export const NATIVE_ADDON_PATH = join(import.meta.dirname, 'build', 'brook_native.node');

let binding: SendFileBinding | null = null;
let reason: string | null = null;
try {
  binding = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as SendFileBinding;
} catch (err) {
  reason = `${NATIVE_ADDON_PATH} could not be loaded (${(err as Error).message.split('\n')[0]}); run node scripts/build-native.mjs`;
}

export const sendFileBinding: SendFileBinding | null = binding;

/** The OS descriptor of a plain TCP socket (Node keeps it on the internal handle), or null (TLS, closed). */
export function socketFd(socket: unknown): number | null {
  const fd = (socket as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
export const nativeUnavailableReason: string | null = reason;
