/**
 * The usual end-to-end set-up: a test PKI, a local HTTPS origin, and the service trusting it,
 * allowed to reach the origin's port on 127.0.0.1 only.
 */
import type { ProcessRunner } from '../../src/media/process-runner.js';
import { startOriginServer, type OriginServer } from './origin-server.js';
import { ScriptedResolver } from './scripted-resolver.js';
import type { Backend } from './test-database.js';
import { createTestPki, type TestPki } from './test-pki.js';
import { startTestService, type TestService } from './test-service.js';

export interface E2eFixture {
  pki: TestPki;
  origin: OriginServer;
  resolver: ScriptedResolver;
  service: TestService;
  /** A URL on the origin by the host name `origin.reelin.test` (resolved by `resolver` to 127.0.0.1). */
  url(path: string): string;
  close(): Promise<void>;
}

export const ORIGIN_HOST = 'origin.reelin.test';

export async function startE2eFixture(backend: Backend, env: Record<string, string> = {}, options: { mediaRunner?: ProcessRunner } = {}): Promise<E2eFixture> {
  const pki = await createTestPki();
  const origin = await startOriginServer({ pki });
  const resolver = new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']);
  const service = await startTestService({
    backend,
    caCertificates: [pki.caCertPem],
    resolver,
    env: { REELIN_ALLOWED_PORTS: String(origin.port), ...env },
    ...options,
  });
  return {
    pki,
    origin,
    resolver,
    service,
    url: (path) => origin.url(path, ORIGIN_HOST),
    close: async () => {
      await service.stop();
      await origin.close();
      await pki.cleanup();
    },
  };
}
