/**
 * A test network of Linux network namespaces: one bridge in the root namespace and, per node, a
 * namespace joined to the bridge by a veth pair. The root namespace holds two addresses on the
 * bridge — `hostIp` (where test clients come from) and `serviceIp` (for services the nodes reach,
 * such as a proxy to the API server) — and node i is `nodeIp(i)`.
 *
 * `isolate(i)` takes node i's link down: it is cut from the other nodes, the services and the
 * test's clients, while processes inside its namespace still reach each other. `rejoin(i)` undoes
 * it. `rejectClients(i)` makes the root namespace's own connections to node i fail fast. Everything is named with a random tag and removed by `destroy()` — also on process exit, so
 * a failed test leaves nothing behind. Needs root (CAP_NET_ADMIN) and iproute2.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function ip(args: readonly string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
}

export class TestNetwork {
  readonly tag: string;
  readonly bridge: string;
  readonly prefix: string;
  readonly namespaces: string[] = [];
  private readonly hostVeths: string[] = [];
  private readonly onExit = () => this.destroy();

  private constructor(nodes: number) {
    this.tag = randomBytes(3).toString('hex');
    this.bridge = `bkb${this.tag}`;
    // 10.213.x.0/24, x from the tag: parallel runs rarely share it, and no route here uses 10.213/16
    this.prefix = `10.213.${parseInt(this.tag.slice(0, 2), 16)}`;
    for (let i = 0; i < nodes; i++) this.namespaces.push(`brook-${this.tag}-${i}`);
  }

  get hostIp(): string { return `${this.prefix}.1`; }
  get serviceIp(): string { return `${this.prefix}.2`; }
  nodeIp(i: number): string { return `${this.prefix}.${10 + i}`; }

  static create(nodes: number): TestNetwork {
    if (process.getuid?.() !== 0) throw new Error('the network-partition test needs root (it creates network namespaces, a bridge and veth pairs)');
    const net = new TestNetwork(nodes);
    process.once('exit', net.onExit);
    try {
      ip(['link', 'add', net.bridge, 'type', 'bridge']);
      ip(['addr', 'add', `${net.hostIp}/24`, 'dev', net.bridge]);
      ip(['addr', 'add', `${net.serviceIp}/24`, 'dev', net.bridge]);
      ip(['link', 'set', net.bridge, 'up']);
      for (let i = 0; i < nodes; i++) {
        const ns = net.namespaces[i]!;
        const host = `bkh${net.tag}${i}`;
        const inner = `bki${net.tag}${i}`;
        ip(['netns', 'add', ns]);
        ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', inner]);
        net.hostVeths.push(host);
        ip(['link', 'set', inner, 'netns', ns]);
        ip(['link', 'set', host, 'master', net.bridge]);
        ip(['link', 'set', host, 'up']);
        ip(['-n', ns, 'addr', 'add', `${net.nodeIp(i)}/24`, 'dev', inner]);
        ip(['-n', ns, 'link', 'set', inner, 'up']);
        ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      net.destroy();
      throw err;
    }
    return net;
  }

  /** The command line that runs `cmd` inside node i's namespace. */
  command(i: number, cmd: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.namespaces[i]!, cmd, ...args]];
  }

  isolate(i: number): void { ip(['link', 'set', this.hostVeths[i]!, 'down']); }
  rejoin(i: number): void { ip(['link', 'set', this.hostVeths[i]!, 'up']); }

  /**
   * While node i is isolated, the root namespace's own connections to it (the test's clients) are
   * reset instead of going unanswered: an iptables REJECT with tcp-reset, tagged, removed by
   * `unrejectClients` and `destroy`.
   */
  rejectClients(i: number): void {
    const r = spawnSync('iptables', this.rejectRule('-I', i), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`iptables failed (${r.status}): ${r.stderr || r.error?.message}`);
    this.rejected.add(i);
  }

  unrejectClients(i: number): void {
    while (spawnSync('iptables', this.rejectRule('-D', i)).status === 0) { /* every copy */ }
    this.rejected.delete(i);
  }

  private readonly rejected = new Set<number>();
  private rejectRule(op: string, i: number): string[] {
    return [op, 'OUTPUT', '-d', `${this.nodeIp(i)}/32`, '-p', 'tcp', '-m', 'comment', '--comment', `brook-test-${this.tag}`, '-j', 'REJECT', '--reject-with', 'tcp-reset'];
  }

  /** Removes the namespaces (their veth ends go with them, and the peers) and the bridge. Idempotent. */
  destroy(): void {
    process.off('exit', this.onExit);
    for (const i of [...this.rejected]) this.unrejectClients(i);
    for (const ns of this.namespaces) spawnSync('ip', ['netns', 'del', ns]);
    for (const host of this.hostVeths) spawnSync('ip', ['link', 'del', host]);
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}
