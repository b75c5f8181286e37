import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;

/**
 * Runs `body` in a fresh Node process (jest's module loader would bypass the resolve hook), with
 * a kubeconfig of one cluster and a bearer token in KC; returns its stdout lines.
 */
function inFreshProcess(body: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'brook-kubeconfig-'));
  try {
    const kc = join(dir, 'kubeconfig');
    writeFileSync(kc, [
      'apiVersion: v1', 'kind: Config', 'current-context: x',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]',
      'users: [{name: u, user: {token: t0ken}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]', ''].join('\n'));
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], {
      encoding: 'utf8', env: { ...process.env, KC: kc, HERE: here }, timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    return r.stdout.trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('loadKubeConfig (a broker process\'s KubeConfig without the generated API clients)', () => {
  test('loads the kubeconfig, authenticates requests with it, and never loads client-node\'s generated index', () => {
    const out = inFreshProcess(`
      const { loadKubeConfig, generatedClientsLoaded } = await import(process.env.HERE + '/kubeconfig.ts');
      const { RequestContext, HttpMethod } = await import('@kubernetes/client-node/dist/gen/http/http.js');
      const kc = await loadKubeConfig(process.env.KC);
      const ctx = new RequestContext(kc.getCurrentCluster().server + '/api', HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      console.log(kc.getCurrentCluster().server);
      console.log(ctx.getHeaders().Authorization);
      console.log(String(generatedClientsLoaded()));
      try { kc.makeApiClient(class {}); console.log('made'); } catch (e) { console.log(e.message); }
    `);
    expect(out[0]).toBe('https://127.0.0.1:6443');
    expect(out[1]).toBe('Bearer t0ken');
    expect(out[2]).toBe('false');
    expect(out[3]).toMatch(/generated API clients are not loaded in a Brook broker/);
  });

  test('the hook tells when the generated index is loaded after all (what a client-node release renaming the import would do)', () => {
    const out = inFreshProcess(`
      const { loadKubeConfig, generatedClientsLoaded } = await import(process.env.HERE + '/kubeconfig.ts');
      await loadKubeConfig(process.env.KC);
      await import('@kubernetes/client-node');
      console.log(String(generatedClientsLoaded()));
    `);
    expect(out).toEqual(['true']);
  });
});
