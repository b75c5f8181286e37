// Where Brook keeps what is slow to make and safe to share between checkouts: Apache Kafka's jars,
// the Go-built Kubernetes binaries, helm, compiled Java test programs. Outside the clone (so a fresh
// clone of the same machine reuses them; a fresh machine builds them once), keyed by version in the
// sub-directory names. Override with BROOK_CACHE_DIR. Plain JavaScript with Node built-ins only.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache root: $BROOK_CACHE_DIR, else ~/.cache/brook (or $XDG_CACHE_HOME/brook). */
export function cacheDir() {
  if (process.env.BROOK_CACHE_DIR) return process.env.BROOK_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'brook');
}
