/**
 * The examples of the error responses in the OpenAPI document. Each is an AppError as the service
 * throws it, turned into a body by the function that answers real errors (buildErrorBody), so
 * `errorCodeEnum`, the quoted values and the status an error code maps to are the service's own.
 * Most errors read the same on every operation, so the document holds each example once (under
 * `components.examples`) and an operation's error responses refer to the ones they answer with.
 */
import { AppError } from '../domain/errors.js';
import { buildErrorBody, httpStatusOfError, type ErrorBody } from './errors.js';
import { exampleIds } from './examples.js';

const { video, clip, team, project, webhook, artifact } = exampleIds;

interface ErrorExample {
  summary: string;
  /** The request path the example answers. */
  path: string;
  error: AppError;
}

const validation = (field: string, value: string, message: string) =>
  new AppError('VALIDATION_ERROR', `the request is not valid: ${field}: ${message}`, null, {
    validationErrors: [{ field, value, message }],
  });
const notFound = (noun: string, id: string, field: string) =>
  new AppError('RESOURCE_NOT_FOUND', `${noun} ${id} was not found`, { [field]: id });
const importNotFailed = (action: string) =>
  new AppError(
    'VIDEO_IN_OPERATION_NOT_FAILED',
    `the import of video ${video} is IN_PROGRESS; only a FAILED import can be ${action}`,
    { uploadStatus: 'IN_PROGRESS' },
  );
const notFullyIngested = (kinds: string) =>
  new AppError(
    'VIDEO_NOT_FULLY_INGESTED',
    `video ${video} has no ${kinds}: it was ingested without fullIngestion (metadata only)`,
    { videoId: video, ingestionStatus: 'DONE' },
  );

const download = `/api/downloads/${video}/interview-4k.mp4`;

/** Every error example of the document, by its name there. */
const catalog = {
  UnknownQueryParameter: {
    summary: 'A query parameter the operation does not declare',
    path: '/api/v1/videos',
    error: validation('status', 'FAILED', 'is not a query parameter of this operation'),
  },
  MalformedVideoId: {
    summary: 'A path parameter that is not a UUID',
    path: '/api/downloads/interview-4k/interview-4k.mp4',
    error: validation('videoId', 'interview-4k', 'must be a UUID'),
  },
  NulCharacter: {
    summary: 'A NUL character in the request',
    path: '/readyz',
    error: validation('probe', '\u0000', 'must not contain the NUL character (U+0000)'),
  },
  InvalidApiKey: {
    summary: 'An API key that is not valid or not active',
    path: '/api/v1/videos',
    error: new AppError('INVALID_API_KEY', 'the API key is not valid or not active'),
  },
  TeamWithoutApiAccess: {
    summary: 'A team without API access',
    path: `/api/v1/videos/${video}`,
    error: new AppError('FORBIDDEN', `team ${team} does not have API access enabled`, { teamId: team }),
  },
  DownloadLinkExpired: {
    summary: 'A download link that has expired',
    path: download,
    error: new AppError(
      'ACCESS_DENIED',
      'the download link has expired: request a new one with POST /api/v1/videos/{videoId}/out/https',
    ),
  },
  TeamNotFound: {
    summary: 'A team the caller is not a member of',
    path: `/api/v1/teams/${team}`,
    error: new AppError('TEAM_NOT_FOUND', `team ${team} was not found`, { teamId: team }),
  },
  VideoNotFound: {
    summary: "A video of none of the caller's teams",
    path: `/api/v1/videos/${video}`,
    error: notFound('video', video, 'videoId'),
  },
  ProjectNotFound: {
    summary: "A project of none of the caller's teams",
    path: `/api/v1/projects/${project}`,
    error: notFound('project', project, 'projectId'),
  },
  WebhookNotFound: {
    summary: "A webhook of none of the caller's teams",
    path: `/api/v1/webhooks/${webhook}`,
    error: notFound('webhook', webhook, 'webhookId'),
  },
  WebhookEventNotFound: {
    summary: "A delivery of none of the caller's teams",
    path: `/api/v1/webhooks/events/${exampleIds.delivery}`,
    error: notFound('webhook event', exampleIds.delivery, 'webhookEventId'),
  },
  PublicKeyNotFound: {
    summary: 'A public key that does not exist or has expired',
    path: `/api/v1/webhooks/public-keys/${exampleIds.publicKey}`,
    error: new AppError('RESOURCE_NOT_FOUND', `public key ${exampleIds.publicKey} was not found (or has expired)`, {
      publicKeyId: exampleIds.publicKey,
    }),
  },
  ArtifactNotFound: {
    summary: 'An artifact a later ingestion replaced',
    path: `/api/downloads/${video}/artifacts/${artifact}/interview-4k-thumbnail-01.jpg`,
    error: new AppError(
      'RESOURCE_NOT_FOUND',
      `artifact ${artifact} of video ${video} was not found (ingestion may have replaced it): request a new link`,
    ),
  },
  ImportNotRestartable: {
    summary: 'An import that is not FAILED',
    path: `/api/v1/videos/${video}/in/restart`,
    error: importNotFailed('restarted'),
  },
  ImportNotAbandonable: {
    summary: 'An import that is not FAILED',
    path: `/api/v1/videos/${video}/in/abandon`,
    error: importNotFailed('abandoned'),
  },
  ConflictingDerivedVideoIds: {
    summary: 'Derived videos other than the ones the body lists',
    path: `/api/v1/videos/${video}`,
    error: new AppError(
      'CONFLICTING_DERIVED_VIDEO_IDS',
      `video ${video} has derived videos [${clip}], not the [] given: list exactly the derived videos to delete`,
      { derivedVideoIds: [clip] },
    ),
  },
  FileNotStoredYet: {
    summary: 'A video whose copy is not DONE',
    path: `/api/v1/videos/${video}/out/https`,
    error: new AppError('CONFLICT', `the file of video ${video} is not stored yet: wait until its upload is DONE`, {
      videoId: video,
    }),
  },
  NoThumbnails: {
    summary: 'A video ingested without fullIngestion',
    path: `/api/v1/videos/${video}/thumbnails`,
    error: notFullyIngested('thumbnails'),
  },
  NoFullFrames: {
    summary: 'A video ingested without fullIngestion',
    path: `/api/v1/videos/${video}/full-frames`,
    error: notFullyIngested('full frames'),
  },
  NoWebVideo: {
    summary: 'A video ingested without fullIngestion',
    path: `/api/v1/videos/${video}/web-video/out/https`,
    error: notFullyIngested('web video'),
  },
  ProjectWithVideos: {
    summary: 'A project that still holds videos',
    path: `/api/v1/projects/${project}`,
    error: new AppError(
      'PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED',
      `project ${project} still holds 3 video(s): delete or move them first`,
      { projectId: project, videoCount: 3 },
    ),
  },
  TooManyActiveWebhooks: {
    summary: 'A team with 10 active webhooks already',
    path: `/api/v1/webhooks/${webhook}/activate`,
    error: new AppError(
      'MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED',
      'a team can have at most 10 active webhooks: deactivate or delete one first',
      { maximum: 10 },
    ),
  },
  WebhookNotActive: {
    summary: 'A test event for an inactive webhook',
    path: `/api/v1/webhooks/${webhook}/test`,
    error: new AppError(
      'WEBHOOK_NOT_ACTIVE',
      `webhook ${webhook} is not active: activate it before sending a test event`,
      { webhookId: webhook },
    ),
  },
  UnsupportedContentType: {
    summary: 'A body that is not JSON',
    path: '/api/v1/videos/in/https',
    error: new AppError(
      'UNSUPPORTED_CONTENT_TYPE',
      'the request body must be JSON: send Content-Type: application/json',
    ),
  },
  TooManyRequests: {
    summary: 'An API key past its requests per minute',
    path: '/api/v1/videos',
    error: new AppError('TOO_MANY_REQUESTS', 'this API key has made more than 600 requests per minute: retry in 17 s', {
      limit: 600,
      retryAfterSeconds: 17,
    }),
  },
  InternalServerError: {
    summary: 'An unexpected failure (its details are in the log)',
    path: '/api/v1/videos',
    error: new AppError(
      'INTERNAL_SERVER_ERROR',
      `an unexpected error occurred; quote request id ${exampleIds.request} when reporting it`,
    ),
  },
} satisfies Record<string, ErrorExample>;

export type ErrorExampleName = keyof typeof catalog;

/** The body an error example is answered with. */
export function errorExampleBody(name: ErrorExampleName): ErrorBody {
  const { path, error } = catalog[name];
  return buildErrorBody({
    now: new Date('2026-11-28T10:07:50.123Z'),
    requestId: exampleIds.request,
    requestPath: path,
    code: error.code,
    statusCode: httpStatusOfError(error),
    message: error.message,
    validationErrors: error.validationErrors,
    details: error.details,
  });
}

/** Every error example as the document's `components.examples` holds it. */
export function errorExampleComponents(): Record<ErrorExampleName, { summary: string; value: ErrorBody }> {
  const names = Object.keys(catalog) as ErrorExampleName[];
  return Object.fromEntries(
    names.map((name) => [name, { summary: catalog[name].summary, value: errorExampleBody(name) }]),
  ) as Record<ErrorExampleName, { summary: string; value: ErrorBody }>;
}

/** The 404 of an operation: the object its path names last, else the team it selects. */
const notFoundByParameter: Record<string, ErrorExampleName> = {
  videoId: 'VideoNotFound',
  projectId: 'ProjectNotFound',
  teamId: 'TeamNotFound',
  webhookId: 'WebhookNotFound',
  webhookEventId: 'WebhookEventNotFound',
  publicKeyId: 'PublicKeyNotFound',
  artifactId: 'ArtifactNotFound',
};

/** The conflict each operation that documents a 409 answers with. */
const conflictByOperation: Record<string, ErrorExampleName> = {
  restartVideoIn: 'ImportNotRestartable',
  abandonVideoIn: 'ImportNotAbandonable',
  deleteVideoById: 'ConflictingDerivedVideoIds',
  generateVideoDownloadUrl: 'FileNotStoredYet',
  getVideoThumbnails: 'NoThumbnails',
  getVideoFullFrames: 'NoFullFrames',
  generateWebVideoDownloadUrl: 'NoWebVideo',
  deleteProjectById: 'ProjectWithVideos',
  createVideoWebhook: 'TooManyActiveWebhooks',
  activateVideoWebhookById: 'TooManyActiveWebhooks',
  testVideoWebhookById: 'WebhookNotActive',
};

/**
 * The error examples operation `operationId` on `path` (a template of the document) answers
 * `status` with; none when there is no example for it (a test of the document then fails).
 */
export function errorExamplesOf(operationId: string, path: string, status: number): ErrorExampleName[] {
  const api = path.startsWith('/api/v1/');
  switch (status) {
    case 400:
      return [api ? 'UnknownQueryParameter' : path.includes('{videoId}') ? 'MalformedVideoId' : 'NulCharacter'];
    case 401:
      return ['InvalidApiKey'];
    case 403:
      return [api ? 'TeamWithoutApiAccess' : 'DownloadLinkExpired'];
    case 404: {
      const last = [...path.matchAll(/\{(\w+)\}/g)]
        .map((match) => match[1] ?? '')
        .findLast((name) => name in notFoundByParameter);
      const byParameter = last === undefined ? undefined : notFoundByParameter[last];
      return [byParameter ?? 'TeamNotFound'];
    }
    case 409: {
      const conflict = conflictByOperation[operationId];
      return conflict === undefined ? [] : [conflict];
    }
    case 415:
      return ['UnsupportedContentType'];
    case 429:
      return ['TooManyRequests'];
    case 500:
      return ['InternalServerError'];
    default:
      return [];
  }
}
