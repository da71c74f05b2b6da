/**
 * The OpenAPI document as the service serves it at `/api/docs/json`, built without a database,
 * storage or a listening socket: the routes are registered (their handlers never run) and the
 * document is asked of the server over an injected request. `npm run openapi` writes it to
 * openapi.json, and a test checks that file still matches.
 */
import { pino } from 'pino';
import { buildServer, type ServerDeps } from './server.js';

/**
 * The limit the default configuration sets (REELIN_RATE_LIMIT_PER_MINUTE), which adds the
 * X-RateLimit-* headers to the document; no request is made, so nothing is counted.
 */
const DEFAULT_RATE_LIMIT_POLICY = { requestsPerWindow: 600, windowSeconds: 60 };

export async function buildOpenApiDocument(): Promise<unknown> {
  // Registering routes only keeps references to the services; no handler runs, so none is needed.
  const unused = {} as never;
  const app = await buildServer({
    log: pino({ level: 'silent' }),
    bodyLimitBytes: 1024,
    rateLimit: { policy: DEFAULT_RATE_LIMIT_POLICY, counter: unused },
    publicUrl: null,
    store: unused,
    signer: unused,
    tenancy: unused,
    projects: unused,
    imports: unused,
    videos: unused,
    artifacts: unused,
    downloads: unused,
    webhooks: unused,
    live: unused,
    readinessChecks: {},
    // The application's routes are hidden from the document; no file is read to build it.
    webApp: { dir: '.', storage: { kind: 'fs', rootDir: '.', directIo: false }, publicUrl: null },
  } satisfies ServerDeps);
  try {
    const response = await app.inject({ method: 'GET', url: '/api/docs/json' });
    if (response.statusCode !== 200) throw new Error(`the OpenAPI document was answered ${response.statusCode}`);
    return response.json();
  } finally {
    await app.close();
  }
}
