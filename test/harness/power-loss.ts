/**
 * Power loss, in one process. A broker that crashes in a test process (`Broker.stop('crash')`) keeps
 * what it wrote in the page cache, like a SIGKILLed process; a machine that loses power keeps
 * only what was fsynced. This module makes an in-process crash lose what a power loss loses:
 *
 *   - `DurabilityTracker.install()` wraps `fs.fdatasync`, `fs.fsync` (callback and sync forms),
 *     `FileHandle.sync`/`datasync` (fs.promises: the log's checkpoints and directory fsyncs that run
 *     off the event loop), `fs.openSync` and `fs.ftruncateSync` for the whole process and remembers, per file (inode),
 *     how many bytes are durable: the file's size when its last successful fsync/fdatasync was
 *     called; 0 when it was created or truncated by an open with a `w` flag; lowered by ftruncate.
 *     It observes the system calls the log makes, so it does not trust the log's own bookkeeping.
 *   - `loseUnsynced(dataDir)`, called after the broker has let go of its files, cuts every segment
 *     file (`*.log`, and a cleaner's `*.log.cleaned` / `*.log.swap`) and every aborted-transaction
 *     index (`*.txnindex`, appended in place like a segment) under `dataDir` back to its durable
 *     length. A file never synced since it was created is cut to 0 bytes.
 *
 * What it does not model: other files (checkpoints, indexes, producer snapshots) are written
 * tmp + fsync + rename by the log and taken as durable once renamed; directory entries are taken
 * as durable (the log fsyncs the directory after creating a segment, but a power loss before that
 * fsync could also drop the file itself). So it loses no more than a real power loss would, and
 * usually exactly what one would: every byte appended since the last fdatasync of that file.
 */
import fs from 'node:fs';
import { devNull } from 'node:os';
import { join } from 'node:path';

type Callback = (err: NodeJS.ErrnoException | null) => void;

interface HandleSyncs { sync(this: fs.promises.FileHandle): Promise<void>; datasync(this: fs.promises.FileHandle): Promise<void> }

/** fs.promises' FileHandle prototype (the class is not exported): taken from a handle opened once. */
const fileHandlePrototype: HandleSyncs = await (async () => {
  const fh = await fs.promises.open(devNull, 'r');
  try {
    return Object.getPrototypeOf(fh) as HandleSyncs;
  } finally {
    await fh.close();
  }
})();

export interface LossReport {
  files: number;
  /** Files cut back, and by how many bytes in all. */
  filesCut: number;
  bytesDropped: number;
}

const SEGMENT_FILE = /^\d{20}\.(log(\.cleaned|\.swap)?|txnindex)$/;

export class DurabilityTracker {
  private readonly durable = new Map<number, number>();
  private restore: (() => void) | null = null;
  /** fsync/fdatasync calls that completed successfully while installed. */
  syncs = 0;

  static install(): DurabilityTracker {
    const t = new DurabilityTracker();
    t.wrap();
    return t;
  }

  /** Puts the original fs functions back. */
  uninstall(): void {
    this.restore?.();
    this.restore = null;
  }

  private sizeOf(fd: number): { ino: number; size: number } | null {
    try {
      const s = fs.fstatSync(fd);
      return s.isFile() ? { ino: s.ino, size: s.size } : null;
    } catch {
      return null;
    }
  }

  private wrap(): void {
    const original = {
      fdatasync: fs.fdatasync, fsync: fs.fsync, fdatasyncSync: fs.fdatasyncSync, fsyncSync: fs.fsyncSync,
      openSync: fs.openSync, ftruncateSync: fs.ftruncateSync,
    };
    const markSynced = (at: { ino: number; size: number } | null) => {
      this.syncs++;
      if (at) this.durable.set(at.ino, at.size);
    };
    const asyncSync = (real: (fd: number, cb: Callback) => void) => (fd: number, cb: Callback) => {
      const at = this.sizeOf(fd);
      real(fd, (err) => {
        if (!err) markSynced(at);
        cb(err);
      });
    };
    const syncSync = (real: (fd: number) => void) => (fd: number) => {
      const at = this.sizeOf(fd);
      real(fd);
      markSynced(at);
    };
    const handleSync = (real: HandleSyncs['sync']): HandleSyncs['sync'] => {
      const sizeOf = (fd: number) => this.sizeOf(fd);
      return async function (this: fs.promises.FileHandle) {
        const at = sizeOf(this.fd);
        await real.call(this);
        markSynced(at);
      };
    };
    const handleOriginal = { sync: fileHandlePrototype.sync, datasync: fileHandlePrototype.datasync };
    fileHandlePrototype.sync = handleSync(handleOriginal.sync);
    fileHandlePrototype.datasync = handleSync(handleOriginal.datasync);
    const mutable = fs as unknown as Record<string, unknown>;
    mutable.fdatasync = asyncSync(original.fdatasync);
    mutable.fsync = asyncSync(original.fsync);
    mutable.fdatasyncSync = syncSync(original.fdatasyncSync);
    mutable.fsyncSync = syncSync(original.fsyncSync);
    mutable.openSync = (path: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
      const fd = original.openSync(path, flags ?? 'r', mode);
      if (typeof flags === 'string' && flags.includes('w')) {
        const at = this.sizeOf(fd);
        if (at) this.durable.set(at.ino, 0);
      }
      return fd;
    };
    mutable.ftruncateSync = (fd: number, len?: number) => {
      original.ftruncateSync(fd, len);
      const at = this.sizeOf(fd);
      if (at) this.durable.set(at.ino, Math.min(this.durable.get(at.ino) ?? 0, at.size));
    };
    this.restore = () => {
      Object.assign(mutable, original);
      Object.assign(fileHandlePrototype, handleOriginal);
    };
  }

  /** Cuts every segment file under `dir` back to its durable length (see the module comment). */
  loseUnsynced(dir: string): LossReport {
    const report: LossReport = { files: 0, filesCut: 0, bytesDropped: 0 };
    const visit = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const path = join(d, e.name);
        if (e.isDirectory()) { visit(path); continue; }
        if (!e.isFile() || !SEGMENT_FILE.test(e.name)) continue;
        const { ino, size } = fs.statSync(path);
        report.files++;
        const keep = Math.min(this.durable.get(ino) ?? 0, size);
        if (keep < size) {
          fs.truncateSync(path, keep);
          report.filesCut++;
          report.bytesDropped += size - keep;
        }
        this.durable.set(ino, keep);
      }
    };
    visit(dir);
    return report;
  }
}
