/**
 * The usual end-to-end set-up: a test PKI, a local HTTPS origin, and the service trusting it,
 * allowed to reach the origin's port on 127.0.0.1 only.
 */
import type { Logger } from 'pino';
import type { ProcessRunner } from '../../src/media/process-runner.js';
import { startOriginServer, type OriginServer } from './origin-server.js';
import { ScriptedResolver } from './scripted-resolver.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';
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
  /** A local HTTPS webhook receiver the service may reach as `hooks.reelin.test`, when asked for. */
  receiver: WebhookReceiver | null;
  hookUrl(path: string): string;
  close(): Promise<void>;
}

export const ORIGIN_HOST = 'origin.reelin.test';

export const HOOK_HOST = 'hooks.reelin.test';

export async function startE2eFixture(
  backend: Backend,
  env: Record<string, string> = {},
  options: { mediaRunner?: ProcessRunner; webhookReceiver?: boolean; logger?: Logger } = {},
): Promise<E2eFixture> {
  const pki = await createTestPki();
  const origin = await startOriginServer({ pki });
  const receiver = options.webhookReceiver ? await startWebhookReceiver(pki) : null;
  const resolver = new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']).set(HOOK_HOST, ['127.0.0.1']);
  const service = await startTestService({
    backend,
    caCertificates: [pki.caCertPem],
    resolver,
    env: {
      REELIN_ALLOWED_PORTS: [origin.port, ...(receiver ? [receiver.port] : [])].join(','),
      REELIN_WEBHOOK_POLL_INTERVAL_MS: '50',
      ...env,
    },
    ...(options.mediaRunner ? { mediaRunner: options.mediaRunner } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return {
    pki,
    origin,
    resolver,
    service,
    url: (path) => origin.url(path, ORIGIN_HOST),
    receiver,
    hookUrl: (path) => {
      if (receiver === null) throw new Error('this fixture was started without a webhook receiver');
      return receiver.url(path, HOOK_HOST);
    },
    close: async () => {
      await service.stop();
      await receiver?.close();
      await origin.close();
      await pki.cleanup();
    },
  };
}
