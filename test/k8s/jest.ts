/** Jest side of the envtest harness: one real API server per test file. */
import { afterAll, beforeAll } from '@jest/globals';
import { startApiServer, type ApiServer, type StartOptions } from './envtest.ts';

/**
 * Starts an API server in beforeAll and stops it in afterAll; call at the top of a test file.
 * The returned function gives the running server inside tests.
 */
export function useApiServer(opts: StartOptions = {}): () => ApiServer {
  let api: ApiServer | undefined;
  beforeAll(async () => { api = await startApiServer(opts); }, (opts.timeoutMs ?? 120_000) + 30_000);
  afterAll(async () => { await api?.stop(); api = undefined; }, 30_000);
  return () => {
    if (!api) throw new Error('the API server is not running (did beforeAll fail?)');
    return api;
  };
}
