/**
 * The Brook image scripts/image.ts builds without Docker: what is in it (production files only),
 * that its configuration is the Dockerfile's, and that it really runs: its default command under
 * runc (Debian), as user 10001, on the image's own Node 24.
 */
import { describe, expect, test, beforeAll, afterAll } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBrookImage, BROOK_CMD, BROOK_UID, type BuiltImage } from '../../scripts/image.ts';
import { repoRoot } from '../harness/paths.ts';

let image: BuiltImage;
let dir: string;
let layout: string;
let files: string[];
let config: { config: { User: string; Entrypoint: string[]; Cmd: string[]; WorkingDir: string; ExposedPorts: Record<string, unknown>; Volumes: Record<string, unknown>; Env: string[] } };

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));

beforeAll(() => {
  image = buildBrookImage();
  dir = mkdtempSync(join(tmpdir(), 'brook-image-test-'));
  layout = join(dir, 'layout');
  sh('mkdir', ['-p', layout]);
  sh('tar', ['-xf', image.archive, '-C', layout]);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  files = manifest.layers.flatMap((l) => sh('tar', ['-tzf', blob(l.digest)]).split('\n').filter(Boolean).map((f) => f.replace(/^\.\//, '')));
}, 600_000);

afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('the Brook image (scripts/image.ts)', () => {
  test('holds the production files: bin, broker, operator, production node_modules; no tests, test helpers or dev dependencies', () => {
    for (const f of ['app/bin/brook', 'app/package.json', 'app/broker/cli.ts', 'app/operator/cli.ts', 'usr/local/bin/node',
      'app/node_modules/@kubernetes/client-node/package.json', 'app/node_modules/express/package.json']) {
      expect(files).toContain(f);
    }
    const forbidden = files.filter((f) => /\.test\.ts$/.test(f) || /^app\/(test|bench|docs|data|\.git)\//.test(f)
      || /^app\/broker\/(log\/testing|protocol\/fixtures)\//.test(f)
      || /^app\/node_modules\/(jest|kafkajs|typescript|@swc|fast-check|node|zx|lz4js|snappyjs)\//.test(f));
    expect(forbidden).toEqual([]);
    process.stderr.write(`${image.ref}: archive ${(image.archiveBytes / 2 ** 20).toFixed(1)} MiB, unpacked ${(image.rootfsBytes / 2 ** 20).toFixed(1)} MiB, ${files.length} entries\n`);
  });

  test("is configured as the Dockerfile says: user 10001, entrypoint /app/bin/brook, the same CMD, ports and volume", () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const json = (instr: string) => JSON.parse(new RegExp(`^${instr} (\\[.*\\])$`, 'm').exec(dockerfile)![1]) as string[];
    expect(config.config.Entrypoint).toEqual(json('ENTRYPOINT'));
    expect(config.config.Cmd).toEqual(json('CMD'));
    expect(BROOK_CMD).toEqual(json('CMD'));
    expect(config.config.User).toBe(/^USER (\S+)$/m.exec(dockerfile)![1]);
    expect(config.config.User).toBe(String(BROOK_UID));
    expect(Object.keys(config.config.ExposedPorts).sort()).toEqual(/^EXPOSE (.+)$/m.exec(dockerfile)![1].split(/\s+/).map((p) => `${p}/tcp`).sort());
    expect(Object.keys(config.config.Volumes)).toEqual([/^VOLUME (\S+)$/m.exec(dockerfile)![1]]);
    expect(config.config.WorkingDir).toBe(/^WORKDIR (\S+)$/m.exec(dockerfile)![1]);
  });

  test('runs its default command under runc: a broker listening on 0.0.0.0:9092, as uid 10001, on the image\'s Node 24', async () => {
    const bundle = join(dir, 'bundle');
    sh('umoci', ['unpack', '--image', `${layout}:${image.tag}`, bundle]);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      process: { args: string[]; terminal: boolean; user: { uid: number } }; mounts: Array<{ destination: string }>;
    };
    expect(spec.process.args).toEqual(['/app/bin/brook', ...BROOK_CMD]);
    expect(spec.process.user.uid).toBe(BROOK_UID);
    spec.process.terminal = false;
    // umoci turns VOLUME into an empty root-owned mount; Docker and Kubernetes volumes get the image's
    // directory (owned by 10001) or the pod's fsGroup instead, so run on the image's own directory.
    spec.mounts = spec.mounts.filter((m) => m.destination !== '/var/lib/brook');
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const id = `brook-image-test-${process.pid}`;
    const child = spawn('runc', ['run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!/brook broker \d+ listening on/.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the broker did not start in the container:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const state = JSON.parse(sh('runc', ['state', id])) as { pid: number };
      const status = readFileSync(`/proc/${state.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(String(BROOK_UID));
      // bin/brook execs node_modules/.bin/node, the image's /usr/local/bin/node (seen from inside its root).
      expect(readlinkSync(`/proc/${state.pid}/exe`)).toBe('/usr/local/bin/node');
      expect(statSync(`/proc/${state.pid}/exe`).ino).toBe(statSync(join(bundle, 'rootfs', 'usr/local/bin/node')).ino);
      expect(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0')).toContain('/app/broker/cli.ts');
    } finally {
      spawnSync('runc', ['kill', id, 'KILL']);
      await exited;
      spawnSync('runc', ['delete', '-f', id]);
    }
  }, 120_000);
});
