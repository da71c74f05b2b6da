import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/api/openapi-document.js';

interface Parameter {
  name: string;
  in: string;
  description?: string;
  schema: { type?: string; pattern?: string; enum?: unknown[]; minimum?: number; maximum?: number };
}
interface Operation {
  operationId?: string;
  description?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Parameter[];
  responses: Record<string, unknown>;
}
interface Document {
  info: { version: string; license: { name: string }; contact: { name: string } };
  servers: unknown[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

let document: Document;
let operations: { method: string; path: string; operation: Operation }[];

beforeAll(async () => {
  document = (await buildOpenApiDocument()) as Document;
  operations = Object.entries(document.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
});

describe('the OpenAPI document', () => {
  it('is the one committed as openapi.json (run `npm run openapi` after changing the contract)', async () => {
    const committed: unknown = JSON.parse(await readFile(new URL('../../openapi.json', import.meta.url), 'utf8'));
    expect(committed, 'openapi.json is out of date: run `npm run openapi` and commit the result').toEqual(document);
  });

  it("names every operation as Pixop's SDK does, each name once", () => {
    const names = Object.fromEntries(
      operations.map(({ method, path, operation }) => [`${method} ${path}`, operation.operationId]),
    );
    expect(names).toEqual({
      'GET /healthz': 'getLiveness',
      'GET /readyz': 'getReadiness',
      'HEAD /api/downloads/{videoId}/{fileName}': 'getVideoFileHeaders',
      'GET /api/downloads/{videoId}/{fileName}': 'downloadVideoFile',
      'HEAD /api/downloads/{videoId}/artifacts/{artifactId}/{fileName}': 'getVideoArtifactFileHeaders',
      'GET /api/downloads/{videoId}/artifacts/{artifactId}/{fileName}': 'downloadVideoArtifactFile',
      'GET /api/v1/account': 'getAccount',
      'GET /api/v1/teams': 'getTeams',
      'GET /api/v1/teams/{teamId}': 'getTeamById',
      'PATCH /api/v1/teams/{teamId}': 'updateTeamById',
      'POST /api/v1/projects': 'createProject',
      'GET /api/v1/projects': 'getProjects',
      'GET /api/v1/projects/default': 'getDefaultProject',
      'GET /api/v1/projects/{projectId}': 'getProjectById',
      'PATCH /api/v1/projects/{projectId}': 'updateProjectById',
      'DELETE /api/v1/projects/{projectId}': 'deleteProjectById',
      'POST /api/v1/videos/in/https': 'createMasterVideoFromHttps',
      'POST /api/v1/videos/in/s3': 'createMasterVideoFromS3',
      'GET /api/v1/videos/{videoId}/in/status': 'getVideoInStatus',
      'POST /api/v1/videos/{videoId}/in/restart': 'restartVideoIn',
      'DELETE /api/v1/videos/{videoId}/in/abandon': 'abandonVideoIn',
      'GET /api/v1/videos': 'getVideos',
      'GET /api/v1/videos/{videoId}': 'getVideoById',
      'PATCH /api/v1/videos/{videoId}': 'updateVideoById',
      'DELETE /api/v1/videos/{videoId}': 'deleteVideoById',
      'GET /api/v1/videos/{videoId}/derived': 'getDerivedVideos',
      'POST /api/v1/videos/{videoId}/out/https': 'generateVideoDownloadUrl',
      'GET /api/v1/videos/{videoId}/thumbnails': 'getVideoThumbnails',
      'GET /api/v1/videos/{videoId}/full-frames': 'getVideoFullFrames',
      'POST /api/v1/videos/{videoId}/web-video/out/https': 'generateWebVideoDownloadUrl',
      'POST /api/v1/webhooks': 'createVideoWebhook',
      'GET /api/v1/webhooks': 'getVideoWebhooks',
      'GET /api/v1/webhooks/public-keys': 'getWebhookPublicKeys',
      'GET /api/v1/webhooks/public-keys/{publicKeyId}': 'getWebhookPublicKeyById',
      'GET /api/v1/webhooks/events': 'getVideoWebhookEvents',
      'GET /api/v1/webhooks/events/{webhookEventId}': 'getVideoWebhookEventById',
      'GET /api/v1/webhooks/{webhookId}': 'getVideoWebhookById',
      'PATCH /api/v1/webhooks/{webhookId}': 'updateVideoWebhookById',
      'DELETE /api/v1/webhooks/{webhookId}': 'deleteVideoWebhookById',
      'POST /api/v1/webhooks/{webhookId}/activate': 'activateVideoWebhookById',
      'POST /api/v1/webhooks/{webhookId}/deactivate': 'deactivateVideoWebhookById',
      'POST /api/v1/webhooks/{webhookId}/test': 'testVideoWebhookById',
      'GET /api/v1/events/stream': 'streamEvents',
    });
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(?:[A-Z0-9][a-z0-9]*)*$/);
  });

  it('describes every operation and every parameter, and types numbers and flags in the query as such', () => {
    const undescribed = operations.flatMap(({ method, path, operation }) => [
      ...(operation.description === undefined ? [`${method} ${path}`] : []),
      ...(operation.parameters ?? [])
        .filter((parameter) => parameter.description === undefined)
        .map((parameter) => `${method} ${path} ${parameter.in} ${parameter.name}`),
    ]);
    expect(undescribed).toEqual([]);
    const parameters = (method: string, path: string) =>
      Object.fromEntries(
        (document.paths[path]?.[method]?.parameters ?? []).map((parameter) => [parameter.name, parameter.schema]),
      );
    expect(parameters('post', '/api/v1/videos/in/https')).toMatchObject({
      fullIngestion: { type: 'boolean' },
      crc32c: { type: 'integer', minimum: 0, maximum: 4_294_967_295 },
      maxConcurrentConnections: { type: 'integer', minimum: 1, maximum: 20 },
    });
    expect(parameters('get', '/api/v1/videos')).toMatchObject({
      pageNumber: { type: 'integer', minimum: 0, maximum: 1_000_000 },
      pageSize: { type: 'integer', minimum: 1, maximum: 100 },
    });
    const textual = operations.flatMap(({ method, path, operation }) =>
      (operation.parameters ?? [])
        .filter(
          (parameter) =>
            parameter.schema.pattern === '^-?[0-9]+$' || parameter.schema.enum?.toString() === 'true,false',
        )
        .map((parameter) => `${method} ${path} ${parameter.name}`),
    );
    expect(textual).toEqual([]);
  });

  it('has info, servers and described tags, and only components something refers to', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(document.info).toMatchObject({
      version: manifest.version,
      license: { name: 'MIT' },
      contact: { name: 'Reelin maintainers' },
    });
    expect(document.servers).toHaveLength(1);
    const used = new Set(operations.flatMap(({ operation }) => operation.tags ?? []));
    expect(document.tags.map((tag) => tag.name).sort()).toEqual([...used].sort());
    for (const tag of document.tags) expect(tag.description.length).toBeGreaterThan(20);
    expect(
      Object.keys(document.components.schemas).filter((name) => name.endsWith('Input') && name !== 'S3BucketInput'),
    ).toEqual([]);
    expect(Object.keys(document.components.schemas)).not.toContain('S3Bucket');
  });

  it('asks no API key of download links and documents what they answer', () => {
    const downloads = operations.filter(({ path }) => path.startsWith('/api/downloads/'));
    expect(downloads).toHaveLength(4);
    for (const { method, operation } of downloads) {
      expect(operation.security).toEqual([]);
      expect(Object.keys(operation.responses).sort()).toEqual(['200', '206', '400', '403', '404', '416']);
      expect(Object.keys((operation.responses['200'] as { content?: object }).content ?? {})).toEqual(
        method === 'HEAD' ? [] : ['*/*'],
      );
    }
  });
});

describe("the OpenAPI document's extensions", () => {
  it("marks this service's own operations as a whole, and says so in their description", () => {
    const marked = operations.filter(
      ({ operation }) => (operation as { 'x-reelin-extension'?: unknown })['x-reelin-extension'] === true,
    );
    expect(marked.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
      'GET /api/downloads/{videoId}/artifacts/{artifactId}/{fileName}',
      'GET /api/downloads/{videoId}/{fileName}',
      'GET /api/v1/events/stream',
      'GET /api/v1/videos/{videoId}/full-frames',
      'GET /api/v1/videos/{videoId}/thumbnails',
      'GET /healthz',
      'GET /readyz',
      'HEAD /api/downloads/{videoId}/artifacts/{artifactId}/{fileName}',
      'HEAD /api/downloads/{videoId}/{fileName}',
      'PATCH /api/v1/teams/{teamId}',
      'POST /api/v1/videos/{videoId}/web-video/out/https',
    ]);
    for (const { operation } of marked) expect(operation.description).toMatch(/^This service's extension[.:] /);
    // An operation of the Pixop API is not marked, nor does it claim to be an extension.
    const pixop = operations.filter((operation) => !marked.includes(operation));
    for (const { operation } of pixop) expect(operation.description).not.toMatch(/^This service's extension/);
  });
});

describe("the OpenAPI document's answers", () => {
  it('say what each answer is, never "Default Response"', () => {
    const undescribed = operations.flatMap(({ method, path, operation }) =>
      Object.entries(operation.responses)
        .filter(([, response]) => {
          const description = (response as { description?: string }).description ?? '';
          return description === 'Default Response' || description.length < 10;
        })
        .map(([status]) => `${method} ${path} ${status}`),
    );
    expect(undescribed).toEqual([]);
    const answers = (path: string, method: string) =>
      document.paths[path]?.[method]?.responses as Record<string, { description: string }>;
    expect(answers('/api/v1/videos/{videoId}', 'get')['200']?.description).toMatch(/^A video: /);
    expect(answers('/api/v1/videos/{videoId}', 'get')['429']?.description).toMatch(/rate limit/);
    expect(answers('/api/downloads/{videoId}/{fileName}', 'head')['403']?.description).toMatch(/expired/);
  });
});
