/**
 * The HTTP server: Fastify with zod schemas, the contract's routes under /api/v1, signed downloads,
 * health endpoints, the OpenAPI document (generated from the route schemas) at /api/docs, and the
 * web application at `/`.
 */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob-store.js';
import type { DownloadLinkSigner } from '../storage/download-links.js';
import type { ProjectService } from '../services/project.service.js';
import type { TenancyService } from '../services/tenancy.service.js';
import type { VideoImportService } from '../services/video-import.service.js';
import type { VideoService } from '../services/video.service.js';
import type { WebhookService } from '../services/webhook.service.js';
import { requireApiKey } from './auth.js';
import { OneLinePerRequest } from './request-log.js';
import { documentRateLimitHeaders, limitRequestsPerApiKey, type RateLimit } from './rate-limit.js';
import type { ArtifactService } from '../services/artifact.service.js';
import type { DownloadService } from '../services/download.service.js';
import { artifactRoutes } from './artifacts.routes.js';
import { downloadRoutes } from './downloads.routes.js';
import { registerBodyParsing } from './body-parsing.js';
import { createClientErrorHandler } from './client-errors.js';
import { registerErrorHandling, sendError } from './errors.js';
import { refuseNulCharacters, refuseUnknownQueryParameters } from './input-guards.js';
import { AppError } from '../domain/errors.js';
import { healthRoutes, type ReadinessCheck } from './health.routes.js';
import {
  describeResponses,
  documentDownloads,
  documentEventStream,
  documentExamples,
  openApiBase,
  withoutUnusedSchemas,
} from './openapi.js';
import type { LiveEvents } from '../live/live-events.js';
import { eventsRoutes } from './events.routes.js';
import { selectTeam } from './team-selection.js';
import { tenancyRoutes } from './tenancy.routes.js';
import { videosInRoutes } from './videos-in.routes.js';
import { videosRoutes } from './videos.routes.js';
import { webhooksRoutes } from './webhooks.routes.js';
import { webAppRoutes, type WebAppOptions } from './web-app.js';

export interface ServerDeps {
  log: Logger;
  bodyLimitBytes: number;
  /** Requests per API key and window, counted through every API process; null: no limit. */
  rateLimit: RateLimit | null;
  publicUrl: string | null;
  store: BlobStore;
  signer: DownloadLinkSigner;
  tenancy: TenancyService;
  projects: ProjectService;
  imports: VideoImportService;
  videos: VideoService;
  artifacts: ArtifactService;
  downloads: DownloadService;
  webhooks: WebhookService;
  /** The live event stream's service (src/live). */
  live: Pick<LiveEvents, 'open'>;
  readinessChecks: Record<string, ReadinessCheck>;
  /** The web application served at `/`. */
  webApp: WebAppOptions;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The longest path parameter routes accept: a download link's file name of up to 255 characters,
 * percent-encoded (a UTF-16 unit is at most 3 UTF-8 bytes, each `%XX`). Fastify's default of 100
 * refused links to files with longer names.
 */
const MAX_PARAM_LENGTH = 255 * 9;

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    // A caller's X-Request-Id is kept when it is a UUID (so it cannot inject text into logs).
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && uuidPattern.test(given) ? given.toLowerCase() : randomUUID();
    },
    logController: new OneLinePerRequest({ requestIdLogLabel: 'requestId' }),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    clientErrorHandler: createClientErrorHandler(deps.log),
    // Requests Fastify refuses before routing (a malformed URL) still get the contract's error body.
    frameworkErrors: (error, request, reply) => {
      void sendError(request, reply, new AppError('BAD_REQUEST', `the request could not be routed: ${error.message}`));
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Downloads serve stored files under their stored type; no browser may guess another.
    reply.header('x-content-type-options', 'nosniff');
  });
  registerBodyParsing(app);
  refuseNulCharacters(app);

  await app.register(swagger, {
    openapi: openApiBase(),
    transform: jsonSchemaTransform,
    transformObject: (input) => {
      const document = describeResponses(
        documentExamples(
          documentEventStream(
            documentDownloads(withoutUnusedSchemas(documentOptionalBodies(jsonSchemaTransformObject(input)))),
          ),
        ),
      );
      return deps.rateLimit === null ? document : documentRateLimitHeaders(document);
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  await app.register(webAppRoutes(deps.webApp));

  await app.register(healthRoutes({ checks: deps.readinessChecks }));
  await app.register(downloadRoutes({ downloads: deps.downloads, store: deps.store, signer: deps.signer }), {
    prefix: '/api',
  });
  await app.register(
    async (v1) => {
      requireApiKey(v1, deps.tenancy);
      if (deps.rateLimit !== null) limitRequestsPerApiKey(v1, deps.rateLimit);
      selectTeam(v1, deps.tenancy);
      refuseUnknownQueryParameters(v1);
      await v1.register(tenancyRoutes({ tenancy: deps.tenancy, projects: deps.projects }));
      await v1.register(videosInRoutes({ imports: deps.imports }));
      await v1.register(videosRoutes({ videos: deps.videos, publicUrl: deps.publicUrl }));
      await v1.register(artifactRoutes({ artifacts: deps.artifacts, publicUrl: deps.publicUrl }));
      await v1.register(webhooksRoutes({ webhooks: deps.webhooks }));
      await v1.register(eventsRoutes({ live: deps.live }));
    },
    { prefix: '/api/v1' },
  );
  return app;
}

type OpenApiDocument = ReturnType<typeof jsonSchemaTransformObject>;

/**
 * @fastify/swagger marks every request body required; here a PATCH body (an empty PATCH changes
 * nothing) and the body of a DELETE (the expected derived ids) are optional, so the document says so.
 */
function documentOptionalBodies(document: OpenApiDocument): OpenApiDocument {
  const paths =
    (document as { paths?: Record<string, Record<string, { requestBody?: { required?: boolean } }>> }).paths ?? {};
  for (const operations of Object.values(paths)) {
    for (const method of ['patch', 'delete']) {
      const body = operations[method]?.requestBody;
      if (body !== undefined) body.required = false;
    }
  }
  return document;
}
