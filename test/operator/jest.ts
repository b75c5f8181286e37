/** Jest side of the operator test harness. */
import { afterAll, beforeAll } from '@jest/globals';
import { startApiServer, type ApiServer } from '../k8s/envtest.ts';
import { installCrds } from './harness.ts';

/**
 * One API server per test file with the CRDs installed; `cleanup` functions (stopping operators)
 * run before the server stops, so nothing talks to a server that is gone.
 */
export function useOperatorApiServer(): { api: () => ApiServer; cleanup: (fn: () => Promise<void> | void) => void } {
  let api: ApiServer | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    api = await startApiServer();
    await installCrds(api);
  }, 180_000);
  afterAll(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    await api?.stop();
    api = undefined;
  }, 60_000);
  return {
    api: () => { if (!api) throw new Error('the API server is not running (did beforeAll fail?)'); return api; },
    cleanup: (fn) => { cleanups.push(fn); },
  };
}

