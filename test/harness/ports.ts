/**
 * Ports for servers a test or benchmark starts as separate processes (brokers, Kafka, etcd,
 * kube-apiserver, Prometheus), which must be told their port before they bind it.
 *
 * Asking the kernel for port 0 and releasing it is not enough: such a port comes from the
 * ephemeral range, and until the server binds it any outgoing connection on the machine (a
 * client, a replica fetcher, another test file's broker) may take it as its local port, and
 * the server then fails with EADDRINUSE. Ports are therefore handed out below the ephemeral
 * range (or above it, where it starts low), each jest worker (or other process) counting
 * through a slice of its own, and each is checked by binding it before it is returned.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const SLICES = 16;

/** [first, last) of the ports this process hands out. */
function window(): [number, number] {
  let [ephemeralLow, ephemeralHigh] = [32768, 60999];
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low! > 0 && high! >= low!) [ephemeralLow, ephemeralHigh] = [low!, high!];
  } catch { /* not Linux: keep the kernel's usual default */ }
  // Below 12000: well-known ports (kubelet's 10250-10259 among them); from 30000: Kubernetes' NodePorts.
  const [from, to] = ephemeralLow >= 20_000 ? [12_000, Math.min(ephemeralLow, 30_000)] : [ephemeralHigh + 1, 65_536];
  const size = Math.floor((to - from) / SLICES);
  if (size < 50) throw new Error(`no room for test ports outside the ephemeral range ${ephemeralLow}-${ephemeralHigh}`);
  const worker = Number(process.env.JEST_WORKER_ID);
  const slice = Number.isInteger(worker) && worker > 0 ? worker % SLICES : process.pid % SLICES;
  return [from + slice * size, from + (slice + 1) * size];
}

let range: [number, number] | undefined;
let next = -1;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on and no outgoing connection will take. */
export async function freePort(): Promise<number> {
  range ??= window();
  const [from, to] = range;
  const size = to - from;
  if (next < 0) next = Math.floor(Math.random() * size);
  for (let tried = 0; tried < size; tried++) {
    const port = from + (next++ % size);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${from}-${to - 1}`);
}
