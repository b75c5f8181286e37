/**
 * Small text checkpoint files, in Kafka's CheckpointFile format:
 *   line 1: version (0) | line 2: entry count | then one entry per line, fields separated by a space.
 * Written atomically: tmp file, fsync, rename, fsync of the directory. A file that does not
 * parse is reported as such (callers fall back to a safe default and say so). One writer: a
 * caller of writeCheckpointAsync must not start another write of the same file (sync or async)
 * before the first one settles, since both go through the same tmp file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically, writeFileAtomicallyAsync } from './offset-index.ts';
import { StorageError } from './errors.ts';

type CheckpointEntries = readonly (readonly (string | number | bigint)[])[];

function checkpointBytes(entries: CheckpointEntries): Buffer {
  return Buffer.from(['0', String(entries.length), ...entries.map((e) => e.join(' '))].join('\n') + '\n');
}

export function writeCheckpoint(file: string, entries: CheckpointEntries): void {
  writeFileAtomically(file, checkpointBytes(entries));
  fsyncDir(path.dirname(file));
}

/**
 * writeCheckpoint with every system call in libuv's thread pool, so that its fsyncs (which wait
 * for whatever else the file system has to commit first) never hold the event loop.
 */
export async function writeCheckpointAsync(file: string, entries: CheckpointEntries): Promise<void> {
  await writeFileAtomicallyAsync(file, checkpointBytes(entries));
  await fsyncDirAsync(path.dirname(file));
}

/** Entries of a checkpoint file; null if the file is absent; throws if it is malformed. */
export function readCheckpoint(file: string): string[][] | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== '0') throw new StorageError('BROOK_ERR_CORRUPT_CHECKPOINT', `${file}: unknown checkpoint version ${lines[0]}`);
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || lines.length !== count + 2) throw new StorageError('BROOK_ERR_CORRUPT_CHECKPOINT', `${file}: expected ${lines[1]} entries, found ${lines.length - 2}`);
  return lines.slice(2).map((l) => l.split(' '));
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  } catch {
    // Some file systems do not support fsync on directories; the rename is still atomic.
  }
}

export async function fsyncDirAsync(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | null = null;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems do not support fsync on directories; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}

/** A one-offset checkpoint in `dir` (log-start-offset, recovery-point, cleaner-offset); null if absent or unreadable (callers fall back to a safe default). */
export function readOffsetCheckpoint(dir: string, file: string): bigint | null {
  try {
    const rows = readCheckpoint(path.join(dir, file));
    if (!rows || rows.length !== 1) return null;
    return BigInt(rows[0]![0]!);
  } catch {
    return null;
  }
}

export function writeOffsetCheckpoint(dir: string, file: string, offset: bigint): void {
  writeCheckpoint(path.join(dir, file), [[offset]]);
}

/**
 * The one-offset checkpoints of a log directory, remembering what each file says: writing the
 * offset a file holds already is skipped (each write is two fsyncs).
 */
export class OffsetCheckpoints {
  private readonly dir: string;
  private readonly written: Map<string, bigint>;
  private readonly beforeWrite: (file: string) => void;

  /**
   * `known`: what the files hold (or, for the log start, would be derived without one).
   * `beforeWrite`: what must be durable before a file is rewritten (runs only when it is).
   */
  constructor(dir: string, known: Iterable<readonly [string, bigint]>, beforeWrite: (file: string) => void = () => {}) {
    this.dir = dir;
    this.written = new Map(known);
    this.beforeWrite = beforeWrite;
  }

  write(file: string, offset: bigint): void {
    if (this.written.get(file) === offset) return;
    this.beforeWrite(file);
    writeOffsetCheckpoint(this.dir, file, offset);
    this.written.set(file, offset);
  }
}
