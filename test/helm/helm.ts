/**
 * Runs the `helm` built from the Go module proxy (test/helm/build.mjs, cached in
 * .cache/helm-<version>/) against the charts in charts/, and parses what it renders.
 *
 * A missing helm fails with the command that builds it; nothing is skipped.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { cacheDir } from '../../scripts/cache-dir.mjs';
import { helmPath, HELM_VERSION } from './build.mjs';
import { ensureDepsCommand, repoRoot } from '../harness/paths.ts';
import { describeRun, run, type RunResult } from '../harness/tools.ts';

export const chartsDir = join(repoRoot, 'charts');
export const operatorChart = join(chartsDir, 'brook-operator');

/** A Kubernetes object as helm renders it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The helm binary; throws naming the build command when it is missing. */
export function helmBin(): string {
  if (process.env.HELM) return process.env.HELM;
  const bin = helmPath();
  if (!existsSync(bin)) {
    throw new Error(`helm ${HELM_VERSION} is not built: run \`${ensureDepsCommand}\` (or \`node test/helm/build.mjs\`) `
      + 'to build it from the Go module proxy into the cache, or set HELM=/path/to/helm');
  }
  return bin;
}

export function helm(args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  // No repositories, plugins or caches of the user's leak in: helm's home is a temp dir per run tree.
  const home = join(cacheDir(), 'helm-home');
  return run(helmBin(), args, {
    input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000,
    env: { HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') },
  });
}

/** Every chart under charts/ (directories with a Chart.yaml). */
export function charts(): string[] {
  return readdirSync(chartsDir).map((d) => join(chartsDir, d)).filter((d) => existsSync(join(d, 'Chart.yaml')));
}

/** The chart's charts/<chart>/ci/*.yaml value files. */
export function ciValueFiles(chart: string): string[] {
  const ci = join(chart, 'ci');
  return existsSync(ci) ? readdirSync(ci).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(ci, f)) : [];
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  valueFiles?: string[];
  set?: string[];
  /** `--api-versions` (e.g. monitoring.coreos.com/v1/PrometheusRule) as if the cluster served them. */
  apiVersions?: string[];
  /** Also render the CRDs in crds/ (`--include-crds`). */
  includeCrds?: boolean;
}

/** `helm template` arguments for these options. */
export function templateArgs(chart: string, o: RenderOptions = {}): string[] {
  return [
    'template', o.release ?? 'brook', chart, '--namespace', o.namespace ?? 'brook-system',
    ...(o.valueFiles ?? []).flatMap((f) => ['-f', f]),
    ...(o.set ?? []).flatMap((s) => ['--set', s]),
    ...(o.apiVersions ?? []).flatMap((a) => ['--api-versions', a]),
    ...(o.includeCrds ? ['--include-crds'] : []),
  ];
}

/** `helm template`, parsed; throws with helm's output when it fails. */
export async function render(chart: string, o: RenderOptions = {}): Promise<KubeObject[]> {
  const r = await helm(templateArgs(chart, o));
  if (r.code !== 0) throw new Error(`helm template failed\n${describeRun(r)}`);
  return yaml.loadAll(r.stdout.toString('utf8')).filter((d): d is KubeObject => d !== null && typeof d === 'object');
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function only(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = find(objects, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, rendered ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0];
}
