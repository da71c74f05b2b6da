/**
 * What the OpenAPI document says beyond the route schemas: `info` (the version is the package's),
 * `servers`, the tags with their descriptions, the download links' bodies, an example on every
 * JSON body, and no schema component that nothing refers to. The document itself is generated
 * from the routes by @fastify/swagger.
 */
import { readFileSync } from 'node:fs';
import type { SwaggerOptions, SwaggerTransformObject } from '@fastify/swagger';
import { errorExampleComponents, errorExamplesOf } from './error-examples.js';

type OpenApiDocument = ReturnType<SwaggerTransformObject>;

/** The version of this package, from the package.json above src/ (or dist/). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** Every tag an operation uses, in the order a reader meets them, with what it groups. */
export const openApiTags = [
  { name: 'Account', description: 'The account that owns the API key, and its default team.' },
  { name: 'Teams', description: "The caller's teams and their settings." },
  { name: 'Projects', description: 'Projects group the videos of a team; every team has a default project.' },
  {
    name: 'Video in',
    description:
      'Importing a master video from an HTTPS URL or an S3 bucket, following the copy and the ingestion, and restarting or abandoning a failed import.',
  },
  {
    name: 'Videos',
    description: 'Masters, their clips and derived videos: reading, renaming, deleting and downloading them.',
  },
  {
    name: 'Ingestion',
    description:
      "This service's extension: what a full ingestion makes of a master (thumbnails, poster, full frames, web video), as pre-signed links.",
  },
  {
    name: 'Webhooks',
    description: 'Subscriptions to video events, their delivery log, test events and the keys that verify signatures.',
  },
  {
    name: 'Live updates',
    description:
      "This service's extension: a server-sent event stream of a team's changes (videos, deletions, webhook deliveries), so clients need not poll.",
  },
  {
    name: 'Downloads',
    description:
      'The pre-signed links the API answers with. The signature in the link is the credential: these need no API key.',
  },
  { name: 'Operations', description: 'Liveness and readiness for operators and load balancers; no credentials.' },
];

/** The top of the document: everything but the paths and components the routes make. */
export function openApiBase(): NonNullable<Extract<SwaggerOptions, { openapi?: unknown }>['openapi']> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Reelin API',
      version: packageVersion(),
      description:
        'A self-hostable video intake service speaking the Pixop Platform REST API v1. See docs/API.md for the choices this service made where the contract is silent. Fields, parameters and operations marked "This service\'s extension" are not part of the Pixop API.',
      license: { name: 'MIT', identifier: 'MIT' },
      contact: { name: 'Reelin maintainers' },
    },
    servers: [
      {
        url: '{scheme}://{host}:{port}',
        description: 'A Reelin instance (paths include the /api prefix); the defaults are one on this machine.',
        variables: {
          scheme: {
            enum: ['http', 'https'],
            default: 'http',
            description: 'https when TLS is set up or a proxy ends it.',
          },
          host: { default: 'localhost', description: 'The host name of the instance (REELIN_HOST).' },
          port: { default: '8080', description: 'The port of the instance (REELIN_PORT).' },
        },
      },
    ],
    tags: openApiTags,
    components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } },
    security: [{ apiKey: [] }],
  };
}

interface Media {
  schema?: { $ref?: string; [keyword: string]: unknown };
  example?: unknown;
  examples?: Record<string, { $ref: string }>;
}
interface Response {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, Media>;
}
interface Operation {
  operationId?: string;
  responses?: Record<string, Response>;
}
type Paths = Record<string, Record<string, Operation>>;

const fileHeaders = {
  'Accept-Ranges': { description: 'Always `bytes`.', schema: { type: 'string', enum: ['bytes'] } },
  ETag: { description: "The file's entity tag, for `If-Range`.", schema: { type: 'string' } },
  'Last-Modified': { description: 'When the file was stored.', schema: { type: 'string' } },
  'Content-Disposition': { description: 'The file name to save the file under.', schema: { type: 'string' } },
  'Content-Length': { description: 'The length of the body in bytes.', schema: { type: 'integer', minimum: 0 } },
  'X-Checksum-CRC32C': {
    description: "A video file's CRC32C as an unsigned decimal integer (not sent for artifacts).",
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
};

/** The answers of a download link that carry (part of) the file, or tell that the range cannot be served. */
function downloadResponses(head: boolean) {
  const body = head
    ? {}
    : { content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } };
  return {
    200: { description: head ? "The whole file's headers." : 'The whole file.', headers: fileHeaders, ...body },
    206: {
      description: head ? 'The headers of the range asked for.' : 'The range asked for.',
      headers: {
        ...fileHeaders,
        'Content-Range': { description: '`bytes start-end/size`.', schema: { type: 'string' } },
      },
      ...body,
    },
    416: {
      description: 'The range lies outside the file; `Content-Range: bytes */size` says its size. No body.',
      headers: { 'Content-Range': { description: '`bytes */size`.', schema: { type: 'string' } } },
    },
  };
}

/** Documents the file answers of the download routes, which are streams rather than schema-checked bodies. */
export function documentDownloads(document: OpenApiDocument): OpenApiDocument {
  const paths = (document as { paths?: Paths }).paths ?? {};
  for (const [path, operations] of Object.entries(paths)) {
    if (!path.startsWith('/api/downloads/')) continue;
    for (const [method, operation] of Object.entries(operations)) {
      // @fastify/swagger appends `-head` to a HEAD route's operationId; these are named for themselves.
      if (method === 'head') operation.operationId = operation.operationId?.replace(/-head$/, '');
      const { 200: _unused, ...errors } = operation.responses ?? {};
      // A HEAD answer never has a body, its errors' neither.
      if (method === 'head') for (const error of Object.values(errors)) delete error.content;
      operation.responses = { ...downloadResponses(method === 'head'), ...errors };
    }
  }
  return document;
}

/** The frames a client reads from `streamEvents`, as the document shows them. */
const eventStreamExample = [
  'retry: 2000',
  '',
  'id: 41',
  'event: ready',
  'data: {"teamId":"6c1f0c9e-8d7e-4a4b-9a57-2b1f5d1f4e10"}',
  '',
  'id: 42',
  'event: video',
  'data: {"id":"0b6f...","name":"Interview","upload":{"uploadState":{"uploadStatus":"IN_PROGRESS","bytesCopied":1048576,...}},...}',
  '',
  ': heartbeat',
  '',
  'id: 43',
  'event: video.deleted',
  'data: {"videoId":"0b6f..."}',
  '',
].join('\n');

/**
 * Documents the event stream as what it is, `text/event-stream`, not a JSON body, with its
 * `Last-Event-ID` header, and marks the operation as this service's extension.
 */
export function documentEventStream(document: OpenApiDocument): OpenApiDocument {
  const paths = (document as { paths?: Record<string, Record<string, Operation & Record<string, unknown>>> }).paths;
  const operation = paths?.['/api/v1/events/stream']?.get;
  if (operation === undefined) return document;
  operation['x-reelin-extension'] = true;
  const parameters = (operation.parameters as unknown[] | undefined) ?? [];
  operation.parameters = [
    ...parameters,
    {
      in: 'header',
      name: 'Last-Event-ID',
      required: false,
      description:
        'The `id` of the last event received: the stream first sends the latest state of everything changed since (or `reset` when that cursor is no longer kept). Browsers send it themselves when an EventSource reconnects.',
      schema: { type: 'string', maxLength: 32 },
    },
  ];
  const { 200: _unused, ...errors } = operation.responses ?? {};
  operation.responses = {
    200: {
      description:
        'The stream, open until the client or the server ends it. Events: `ready` `{teamId}`, `video` (a Video), `video.deleted` `{videoId}`, `webhook.delivery` `{webhookId, webhookEventId}`, `reset` `{reason}`; each with an `id` cursor and one line of JSON `data`.',
      headers: {
        'Cache-Control': { description: 'Always `no-cache`.', schema: { type: 'string', enum: ['no-cache'] } },
        'X-Accel-Buffering': {
          description: 'Always `no`: proxies (nginx) must pass events on as they come.',
          schema: { type: 'string', enum: ['no'] },
        },
      },
      content: { 'text/event-stream': { schema: { type: 'string' }, example: eventStreamExample } },
    },
    ...errors,
  };
  return document;
}

/** Every `#/components/schemas/...` name referred to anywhere in `value`. */
function referencedSchemas(value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedSchemas(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string' && item.startsWith('#/components/schemas/'))
        found.add(item.slice('#/components/schemas/'.length));
      else referencedSchemas(item, found);
    }
  }
  return found;
}

/**
 * Drops the schema components no operation reaches. The zod type provider registers an `...Input`
 * twin of every named schema, though request bodies are written inline and only responses refer to
 * components.
 */
export function withoutUnusedSchemas(document: OpenApiDocument): OpenApiDocument {
  const openapi = document as { paths?: unknown; components?: { schemas?: Record<string, unknown> } };
  const schemas = openapi.components?.schemas;
  if (schemas === undefined) return document;
  const used = referencedSchemas(openapi.paths, new Set());
  // Components refer to one another: follow the references until no new one turns up.
  for (let size = -1; size !== used.size;) {
    size = used.size;
    for (const name of [...used]) referencedSchemas(schemas[name], used);
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  return document;
}

/**
 * Gives every JSON answer of every operation its examples on its media type, where readers and
 * generators look first. An answer whose schema is a component refers to the example of
 * `components.examples` named like it (the example declared with the schema), an error to the
 * examples it is answered with (error-examples.ts): each example is in the document once. Inline
 * schemas' examples are on their media types already (@fastify/swagger moves them there).
 */
export function documentExamples(document: OpenApiDocument): OpenApiDocument {
  const openapi = document as {
    paths?: Paths;
    components?: { schemas?: Record<string, { examples?: unknown[] }>; examples?: Record<string, unknown> };
  };
  const schemas = openapi.components?.schemas ?? {};
  const errorExamples = errorExampleComponents();
  const examples: Record<string, unknown> = { ...errorExamples };
  const refer = (names: string[]) =>
    Object.fromEntries(names.map((name) => [name, { $ref: `#/components/examples/${name}` }]));
  for (const [path, operations] of Object.entries(openapi.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const media = response.content?.['application/json'];
        const name = media?.schema?.$ref?.replace('#/components/schemas/', '');
        if (media === undefined || media.example !== undefined || name === undefined) continue;
        if (name === 'Error') {
          const names = errorExamplesOf(operation.operationId ?? '', path, Number(status));
          if (names.length > 0) media.examples = refer(names);
          continue;
        }
        const value = schemas[name]?.examples?.[0];
        if (value === undefined) continue;
        if (name in errorExamples) throw new Error(`an error example and a schema are both named ${name}`);
        examples[name] = { value };
        media.examples = refer([name]);
      }
    }
  }
  openapi.components = { ...openapi.components, examples };
  return document;
}

/** What an error status means, for every operation that documents it. */
const errorDescriptions: Record<string, string> = {
  400: 'The request is not valid: `errorCode` says why, `validationErrors` which fields.',
  401: 'No API key, or one that is not valid or not active.',
  403: 'The team (the one selected, or the one the object is in) has no API access.',
  404: "No such object, or not in a team of the caller's; or a team the caller is not a member of.",
  409: 'The object is not in a state that allows this: `errorCode` says why.',
  415: 'The body is not JSON.',
  429: 'Past the rate limit of the API key: retry after `Retry-After` seconds.',
  500: 'An unexpected failure: quote the request id when reporting it.',
};

/** A download link's errors differ: its credential is the link. */
const downloadErrorDescriptions: Record<string, string> = {
  400: 'The link is malformed.',
  403: 'The link is not valid or has expired: ask the API for a new one.',
  404: 'The file no longer exists.',
};

/**
 * Says what each answer is where @fastify/swagger could only write "Default Response": an answer
 * whose schema is a component, what that component is (its description); an error, what its status
 * means (the error body's schema is one component for every status).
 */
export function describeResponses(document: OpenApiDocument): OpenApiDocument {
  const openapi = document as { paths?: Paths; components?: { schemas?: Record<string, { description?: string }> } };
  const schemas = openapi.components?.schemas ?? {};
  for (const [path, operations] of Object.entries(openapi.paths ?? {})) {
    const errors = path.startsWith('/api/downloads/') ? downloadErrorDescriptions : errorDescriptions;
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description !== 'Default Response') continue;
        const name = response.content?.['application/json']?.schema?.$ref?.replace('#/components/schemas/', '');
        // A HEAD answer's errors have no body, so no schema: they are errors all the same.
        const description =
          name === undefined || name === 'Error'
            ? (errors[status] ?? errorDescriptions[status])
            : schemas[name]?.description;
        if (description !== undefined) response.description = description;
      }
    }
  }
  return document;
}
