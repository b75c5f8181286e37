#!/usr/bin/env node
// Builds Brook's native add-on, broker/native/build/brook_native.node (sendfile for the Fetch path:
// broker/native/brook_native.c), with the C compiler against the Node-API headers of the project's
// Node 24 (the npm `node` package's platform package, node-<os>-<arch>/include/node). Rebuilt when the source or this script is
// newer than the add-on. Plain JavaScript so that scripts/ensure-deps.mjs can run it on any Node.
//
//   node scripts/build-native.mjs            build if needed; without a C compiler, say so and exit 0
//                                            (Brook then reads fetched records into memory: slower, same bytes)
//   node scripts/build-native.mjs --require  as above, but a missing compiler or failed build is an error
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const thisFile = fileURLToPath(import.meta.url);
const source = join(root, 'broker', 'native', 'brook_native.c');
export const NATIVE_ADDON = join(root, 'broker', 'native', 'build', 'brook_native.node');

function log(msg) { process.stderr.write(`[build-native] ${msg}\n`); }

function compiler() {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang']) {
    if (cc && spawnSync('sh', ['-c', `command -v ${cc}`], { stdio: 'ignore' }).status === 0) return cc;
  }
  return null;
}

/**
 * The Node-API headers: those of the project's Node 24 (the npm \`node\` package installs its
 * platform's package, node-<os>-<arch>, with include/), then those of the Node running this script.
 */
function nodeHeaders() {
  const candidates = [];
  const platformPackages = join(root, 'node_modules', 'node', 'node_modules');
  if (existsSync(platformPackages)) {
    for (const name of readdirSync(platformPackages).filter((n) => n.startsWith('node-'))) candidates.push(join(platformPackages, name, 'include', 'node'));
  }
  candidates.push(join(dirname(process.execPath), '..', 'include', 'node'));
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h'))) ?? null;
}

/** Returns true when the add-on is there (built now or before); false when it could not be built and `required` is false. */
export function buildNative({ required = false } = {}) {
  const fail = (msg) => {
    if (required) throw new Error(msg);
    log(`${msg}: Brook will read fetched records into memory instead of sending them with sendfile`);
    return false;
  };
  if (existsSync(NATIVE_ADDON)) {
    const built = statSync(NATIVE_ADDON).mtimeMs;
    if (built >= statSync(source).mtimeMs && built >= statSync(thisFile).mtimeMs) return true;
  }
  const cc = compiler();
  if (!cc) return fail('no C compiler (cc, gcc or clang) to build broker/native/brook_native.c');
  const headers = nodeHeaders();
  if (!headers) return fail('no Node-API headers (include/node/node_api.h) beside the project\'s Node');
  mkdirSync(dirname(NATIVE_ADDON), { recursive: true });
  const tmp = `${NATIVE_ADDON}.${process.pid}.tmp`;
  const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-DNODE_GYP_MODULE_NAME=brook_native', `-I${headers}`, source, '-o', tmp];
  log(`$ ${cc} ${args.join(' ')}`);
  const r = spawnSync(cc, args, { stdio: 'inherit' });
  if (r.status !== 0) return fail(`${cc} failed to build ${source} (exit ${r.status ?? r.error?.message})`);
  renameSync(tmp, NATIVE_ADDON);
  log(`built ${NATIVE_ADDON}`);
  return true;
}

if (process.argv[1] && realpathSync(process.argv[1]) === thisFile) {
  try {
    buildNative({ required: process.argv.includes('--require') });
  } catch (err) {
    log(`failed: ${err.message}`);
    process.exit(1);
  }
}
