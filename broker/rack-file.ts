/**
 * broker.rack from a file: on Kubernetes the operator copies the node's zone label to a pod
 * annotation and a downward API volume shows it as a file. The node may have no such label (kind,
 * minikube, most single-node clusters), or the annotation may arrive after the pod started, so a
 * missing or empty file never stops a broker: it starts without a rack (said once in the log)
 * and takes the rack when the file gets one, and again whenever it changes.
 *
 * The file is polled, not watched: the kubelet updates downward API volumes by swapping a
 * symlinked directory, which inotify on the file does not follow.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from './logger.ts';

/** The first line of `path`, trimmed; null when the file is missing, unreadable or empty. */
export async function readRack(path: string): Promise<string | null> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n')[0]?.trim() || null;
}

export interface RackFileWatch {
  /** The rack the file held when watching started (null: none yet). */
  readonly initial: string | null;
  stop(): void;
}

export async function watchRackFile(path: string, opts: { log: Logger; onChange: (rack: string | null) => void; intervalMs?: number }): Promise<RackFileWatch> {
  const initial = await readRack(path);
  if (initial === null) opts.log.info(`no rack in ${path} yet: starting without one; it is picked up when the file gets one`);
  else opts.log.info(`rack ${initial} (from ${path})`);
  let current = initial;
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    void readRack(path).then((rack) => {
      reading = false;
      if (rack === current) return;
      opts.log.info(rack === null ? `${path} no longer holds a rack` : `rack ${rack} (from ${path})`);
      current = rack;
      opts.onChange(rack);
    });
  }, opts.intervalMs ?? 2_000);
  timer.unref();
  return { initial, stop: () => clearInterval(timer) };
}
