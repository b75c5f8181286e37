/**
 * FileRegion: a byte range of an open file standing in a message's chunks for record bytes that
 * were never read into memory. The Fetch handler makes them only for a connection that sends
 * files itself (broker/server/connection.ts, through the native sendFile: sendfile(2)), so every
 * other user of encoded chunks sees Buffers only; `encodeResponse` refuses a region.
 *
 * The region holds whatever keeps `fd` open (a retained log segment); `release()` gives it back,
 * once, when the connection is done with the region: sent, or dropped with the connection.
 */
export class FileRegion {
  readonly fd: number;
  readonly position: number;
  readonly length: number;
  private onRelease: (() => void) | null;

  constructor(fd: number, position: number, length: number, onRelease: () => void) {
    this.fd = fd;
    this.position = position;
    this.length = length;
    this.onRelease = onRelease;
  }

  release(): void {
    const f = this.onRelease;
    this.onRelease = null;
    f?.();
  }
}

/** One piece of an encoded message: bytes, or a file range sent from the page cache. */
export type Chunk = Buffer | FileRegion;

/** The chunks as Buffers; throws when one is a FileRegion (a writer that cannot send files got one). */
export function buffersOnly(chunks: Chunk[], what: string): Buffer[] {
  for (const c of chunks) if (c instanceof FileRegion) throw new Error(`${what}: a file region where only bytes can be written`);
  return chunks as Buffer[];
}
