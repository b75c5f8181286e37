/**
 * Loading a KubeConfig without @kubernetes/client-node's generated API clients and models.
 *
 * Brook talks to the API server through its own REST client (./client.ts) and list+watch
 * (./collection-watch.ts); of client-node it uses KubeConfig (kubeconfig files, in-cluster
 * service accounts, client certificates, tokens, exec and OIDC auth) and RequestContext. Its
 * package index, and its config.js for `makeApiClient`, load the whole
 * generated OpenAPI client (thousands of model classes): ~50 MiB of a broker's resident memory
 * that Brook never uses (docs/benchmarks.md, "RF 3 on three brokers"). A broker process
 * therefore resolves config.js's import of the generated index to ./generated-clients-absent.ts, which
 * throws if `makeApiClient` is ever called, and imports the modules it uses by their paths.
 *
 * The resolve hook only redirects config.js's import, and only when `loadKubeConfig` runs before
 * anything in the process loaded client-node's index (true of `brook broker`; a process that
 * already loaded the index keeps its full KubeConfig). A client-node release that renames the
 * import loses the saving, not the function: `generatedClientsLoaded()` tells, and a test checks it.
 */
import { registerHooks } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node';

const CONFIG_MODULE = '/@kubernetes/client-node/dist/config.js';
const GENERATED_INDEX = './gen/index.js';
const ABSENT = new URL('./generated-clients-absent.ts', import.meta.url).href;

let hooked = false;
let generatedLoaded = false;

function hookOnce(): void {
  if (hooked) return;
  hooked = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === GENERATED_INDEX && context.parentURL?.endsWith(CONFIG_MODULE)) {
        return { url: ABSENT, shortCircuit: true };
      }
      const resolved = nextResolve(specifier, context);
      if (resolved.url.endsWith('/@kubernetes/client-node/dist/gen/index.js')) generatedLoaded = true;
      return resolved;
    },
  });
}

/** Whether this process resolved client-node's generated index since `loadKubeConfig` was first called. */
export function generatedClientsLoaded(): boolean { return generatedLoaded; }

/** A KubeConfig from `path`, or else $KUBECONFIG, ~/.kube/config or the pod's service account. */
export async function loadKubeConfig(path?: string): Promise<KubeConfig> {
  hookOnce();
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
