/**
 * Files the operator fills through a downward API volume (pod annotations it writes after the
 * pod started), read without ever blocking start-up:
 *
 * - the rack (`--rack-file`): the operator copies the node's zone label to a pod annotation.
 *   The node may have no such label (kind, minikube, most single-node clusters), or the
 *   annotation may arrive after the pod started, so a missing or empty file never stops a
 *   broker: it starts without a rack (said once in the log) and takes the rack when the file
 *   gets one, and again whenever it changes.
 * - the advertised addresses of external listeners (`--advertised-listeners-file`), in Kafka's
 *   advertised.listeners form: a node port's node address and port, or a load balancer's
 *   address once it has one. Until the file names a listener, that listener is not advertised.
 *
 * Files are polled, not watched: the kubelet updates downward API volumes by swapping a
 * symlinked directory, which inotify on the file does not follow.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from './logger.ts';

/** The content of `path`, trimmed; null when the file is missing, unreadable or empty. */
async function readTrimmed(path: string): Promise<string | null> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim() || null;
}

/** The first line of `path`, trimmed; null when the file is missing, unreadable or empty. */
export async function readRack(path: string): Promise<string | null> {
  return (await readTrimmed(path))?.split('\n')[0]?.trim() || null;
}

export interface FileWatch {
  /** The value the file held when watching started (null: none yet). */
  readonly initial: string | null;
  stop(): void;
}

/** Polls `path` every `intervalMs` and calls `onChange` with each new value of `read(path)`. */
async function watchValue(path: string, read: (path: string) => Promise<string | null>, onChange: (value: string | null) => void, intervalMs: number): Promise<FileWatch> {
  const initial = await read(path);
  let current = initial;
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    void read(path).then((value) => {
      reading = false;
      if (value === current) return;
      current = value;
      onChange(value);
    });
  }, intervalMs);
  timer.unref();
  return { initial, stop: () => clearInterval(timer) };
}

export function watchRackFile(path: string, opts: { log: Logger; onChange: (rack: string | null) => void; intervalMs?: number }): Promise<FileWatch> {
  return watchValue(path, readRack, (rack) => {
    opts.log.info(rack === null ? `${path} no longer holds a rack` : `rack ${rack} (from ${path})`);
    opts.onChange(rack);
  }, opts.intervalMs ?? 2_000).then((w) => {
    if (w.initial === null) opts.log.info(`no rack in ${path} yet: starting without one; it is picked up when the file gets one`);
    else opts.log.info(`rack ${w.initial} (from ${path})`);
    return w;
  });
}

/** The file's `NAME://host:port,...` text (newlines count as commas); null when missing or empty. */
export function watchAdvertisedListenersFile(path: string, opts: { log: Logger; onChange: (text: string | null) => void; intervalMs?: number }): Promise<FileWatch> {
  const read = async (p: string) => (await readTrimmed(p))?.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean).join(',') || null;
  return watchValue(path, read, (text) => {
    opts.log.info(`advertised listeners from ${path}: ${text ?? 'none'}`);
    opts.onChange(text);
  }, opts.intervalMs ?? 2_000);
}
