/**
 * Wire schemas shared by the routes: they validate requests, shape responses and generate the
 * OpenAPI document. Field names and limits follow the contract (docs/API.md).
 */
import { z } from 'zod';
import { eventTypes, type EventType } from '../domain/events.js';
import { standardWebhooksSecretPattern } from '../domain/webhooks.js';
import { MAX_QUOTED_VALUE_LENGTH } from './errors.js';
import { errorExampleBody } from './error-examples.js';
import * as examples from './examples.js';

export const uuid = z.uuid({ message: 'must be a UUID' });

/** A string field of `min`..`max` characters, with messages that say which rule was broken. */
export function boundedString(min: number, max: number) {
  const range = min === 0 ? `at most ${max} characters` : `${min} to ${max} characters`;
  return z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .min(min, { message: `must be ${range}` })
    .max(max, { message: `must be ${range}` });
}

export const dateTime = z.iso.datetime({ offset: true });

/** The earliest and latest instants a date query parameter may name (years 1 to 9999 in UTC). */
const EARLIEST_QUERY_DATE_MS = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST_QUERY_DATE_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

/**
 * An RFC 3339 date-time in a query string, as a Date. PostgreSQL stores no year 0 (RFC 3339's
 * `0000` is 1 BC) and JavaScript writes years past 9999 in a form PostgreSQL does not read, so
 * instants outside years 1..9999 (UTC) are refused here rather than failing at the database.
 */
export const queryDateTime = z.iso
  .datetime({ offset: true, message: 'must be an RFC 3339 date-time with an offset, e.g. 2026-11-28T10:07:50Z' })
  .transform((text) => new Date(text))
  .refine(
    (date) =>
      !Number.isNaN(date.getTime()) &&
      date.getTime() >= EARLIEST_QUERY_DATE_MS &&
      date.getTime() <= LATEST_QUERY_DATE_MS,
    {
      message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z',
    },
  );

/**
 * What the OpenAPI document says of a query parameter that is read from its text: its type as a
 * client should send it (`pattern` and `enum` of the text are dropped, as the type says it all).
 */
type QueryParameterDoc = { type: 'integer'; minimum: number; maximum: number } | { type: 'boolean' };
function documentedAs(doc: QueryParameterDoc): Record<string, unknown> {
  return { ...doc, pattern: undefined, enum: undefined };
}

/**
 * `true` / `false` in a query string (zod's coercion would read "false" as true); documented as a
 * boolean, which generated clients send as these words.
 */
export const queryBoolean = z
  .enum(['true', 'false'], { message: 'must be true or false' })
  .transform((value) => value === 'true')
  .meta(documentedAs({ type: 'boolean' }));

/**
 * A whole number in a query string, within bounds. Read from its text (so a non-number is the same
 * 400 with the same message as ever) and documented as an integer with its range.
 */
export function queryInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^-?[0-9]+$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    )
    .meta(documentedAs({ type: 'integer', minimum: min, maximum: max }));
}

export const triState = z.enum(['INCLUDE', 'EXCLUDE', 'ONLY']);

export const pageQuery = z.object({
  pageNumber: queryInteger(0, 1_000_000).default(0).describe('The page to answer, from 0 (default 0).'),
  pageSize: queryInteger(1, 100).default(10).describe('Items per page (default 10).'),
  sortDirection: z.enum(['ASC', 'DESC']).default('ASC').describe('The order of the items.'),
  sortBy: z.enum(['createdAt', 'updatedAt']).default('createdAt').describe('The field the items are ordered by.'),
});

/** A list's `teamId`: the team whose objects are listed. */
export const teamIdQuery = uuid
  .optional()
  .describe("One of the caller's teams, whose objects are listed; absent: the caller's default team.");

/** A page of `item`s; `example` (one item) makes the page's example. */
export function pageOf<T extends z.ZodType>(item: T, example: unknown) {
  return z
    .object({
      pageNumber: z.number().int(),
      pageSize: z.number().int(),
      numberOfElements: z.number().int(),
      totalPages: z.number().int(),
      totalElements: z.number().int(),
      items: z.array(item),
    })
    .meta({
      description: 'One page of the list, and where it lies in the whole.',
      examples: [examples.pageExample(example)],
    });
}

export const selectTeamQuery = z.object({
  selectTeamId: uuid
    .optional()
    .describe(
      "One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller.",
    ),
});

export const errorResponse = z
  .object({
    timestamp: dateTime,
    requestId: z.string(),
    requestPath: z.string(),
    statusCode: z.number().int(),
    errorCode: z.string(),
    errorCodeEnum: z.string().optional().meta({
      description: "`errorCode` again when it is one of Pixop's documented codes; absent for this service's own codes.",
    }),
    message: z.string(),
    validationErrors: z.array(
      z.object({
        field: z.string(),
        value: z.string().meta({
          description: `The offending value: a string as sent, anything else JSON-encoded (\`null\` when missing), secrets as \`[redacted]\`, cut to ${MAX_QUOTED_VALUE_LENGTH} characters followed by \`…\`.`,
        }),
        message: z.string(),
      }),
    ),
    errorDetails: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'Error', examples: [errorExampleBody('VideoNotFound')] });

/** The error responses every API-key endpoint can answer with, for the OpenAPI document. */
export const commonErrors = {
  400: errorResponse,
  401: errorResponse,
  403: errorResponse,
  404: errorResponse,
  415: errorResponse,
  429: errorResponse,
  500: errorResponse,
};

export const operationStatus = z.enum(['INITIAL', 'IN_PROGRESS', 'DONE', 'FAILED']);

export const operationError = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
});

export const videoFile = z
  .object({
    name: z.string(),
    size: z.number().int().nullable(),
    type: z.string(),
    containerName: z.string().nullable(),
    lastModified: dateTime.nullable(),
  })
  .meta({ id: 'VideoFile', examples: [examples.videoFileExample] });

/**
 * Marks a field or parameter as this service's extension (not in the Pixop API): its description
 * says so, and the OpenAPI document carries `x-reelin-extension: true` on it.
 */
export function extension<T extends z.ZodType>(schema: T, description: string): T {
  return schema.meta({ description: `This service's extension: ${description}`, 'x-reelin-extension': true });
}

/**
 * Marks a whole operation as this service's own (not in the Pixop API): spread into its route
 * schema, it starts the description with that and gives the operation `x-reelin-extension: true`.
 */
export function extensionOperation(description: string) {
  return { description: `This service's extension. ${description}`, 'x-reelin-extension': true } as const;
}

export const uploadState = z.object({
  updatedAt: dateTime,
  uploadStatus: operationStatus,
  progressPercentage: z.number().int().min(0).max(100),
  error: operationError.optional(),
  bytesCopied: extension(
    z.number().int().min(0).optional(),
    'the bytes of the file copied so far (as of `updatedAt`); the file size once DONE.',
  ),
  totalBytes: extension(z.number().int().min(0).optional(), 'the size of the file being copied, in bytes.'),
  bytesPerSecond: extension(
    z.number().int().min(0).nullable().optional(),
    'the speed of the copy in bytes per second, measured over about the last 10 seconds up to `updatedAt`; null unless uploadStatus is IN_PROGRESS and the copy has run for one progress interval.',
  ),
  etaSeconds: extension(
    z.number().int().min(0).nullable().optional(),
    'the seconds the copy still needs at `bytesPerSecond`, rounded up; 0 once DONE; null when unknown (not started, failed, no measured speed yet, or stalled).',
  ),
});

export const videoUpload = z
  .object({ file: videoFile, uploadState })
  .meta({ id: 'VideoUpload', examples: [examples.videoUploadExample] });

const scanType = z.enum(['PROGRESSIVE', 'INTERLACED_TOP_FIRST', 'INTERLACED_BOTTOM_FIRST']);

export const videoMetadata = z
  .object({
    containerName: z.string(),
    longContainerName: z.string().nullable(),
    codecName: z.string(),
    longCodecName: z.string().nullable(),
    pixelFormatName: z.string().nullable(),
    primaryBitDepth: z.number().int().nullable(),
    frameWidth: z.number().int(),
    frameHeight: z.number().int(),
    displayAspectRatio: z.object({ ratio: z.number(), tag: z.string() }),
    scanning: z.object({
      metadata: scanType.describe('What the file declares (its field order).'),
      heuristics: scanType
        .nullable()
        .describe(
          'What analysis of the pictures found (ffmpeg idet over segments spread over the video); full ingestion only.',
        ),
    }),
    averageFrameRate: z.object({ frameRate: z.number(), rational: z.string() }).nullable(),
    durationInMillis: z.number().int().nullable(),
    totalFrames: z.number().int().nullable(),
    size: z.number().int(),
    videoStreamSize: z.number().int().nullable(),
    colorRangeName: z.string().nullable(),
    colorSpaceName: z.string().nullable(),
    colorTransferName: z.string().nullable(),
    colorPrimariesName: z.string().nullable(),
    hdrStandardName: z.string().nullable().describe('HDR10, HDR10+, HLG or Dolby Vision; null for SDR.'),
  })
  .meta({ id: 'VideoMetadata', examples: [examples.videoMetadataExample] });

export const qualityAssessment = z
  .object({
    metrics: z.array(
      z.object({
        name: z.string(),
        sampleMean: z.number(),
        subjectiveLabel: z.string().describe('untenable, poor, fair, good or excellent'),
        subjectiveScore: z.number().min(0).max(5),
      }),
    ),
    overallSubjectiveScore: z.number().min(0).max(5),
  })
  .meta({
    id: 'QualityAssessment',
    examples: [examples.qualityAssessmentExample],
    description: 'See docs/quality-assessment.md for how each metric is computed and what its labels mean.',
  });

const unavailableFeature = z.object({ feature: z.string(), reason: z.string() });

export const videoIngestion = z
  .object({
    ingestionState: z.object({
      updatedAt: dateTime,
      etaSeconds: z.number().int().nullable(),
      ingestionStatus: operationStatus,
      progressPercentage: z.number().int().min(0).max(100),
      webVideoAvailable: z.boolean(),
      thumbnailsAvailable: z.boolean(),
      fullFramesAvailable: z.boolean(),
      videoMetadataAvailable: z.boolean(),
      error: extension(
        operationError.optional(),
        'why the ingestion failed (code, message, details); present only when ingestionStatus is FAILED.',
      ),
      unavailableFeatures: z.array(unavailableFeature).optional().meta({
        description:
          "This service's extension: parts of a full ingestion the installed ffmpeg cannot make, with the reason; present only when there are some.",
        'x-reelin-extension': true,
      }),
    }),
    metadata: videoMetadata.nullable(),
    qualityAssessment: qualityAssessment.nullable(),
  })
  .meta({ id: 'VideoIngestion', examples: [examples.videoIngestionExample] });

export const videoProcessing = z
  .object({
    processingState: z.object({
      updatedAt: dateTime,
      etaSeconds: z.number().int().nullable(),
      processingStatus: operationStatus,
      progressPercentage: z.number().int().min(0).max(100),
      error: extension(
        operationError.optional(),
        'why the cut failed (code, message, details); present only when processingStatus is FAILED.',
      ),
    }),
    sourceVideo: z.object({
      videoId: uuid,
      startPositionMilliseconds: z.number().int(),
      endPositionMilliseconds: z.number().int(),
    }),
  })
  .meta({ id: 'VideoProcessing', examples: [examples.videoProcessingExample] });

export const videoInStatus = z.object({ videoId: uuid, upload: videoUpload, ingestion: videoIngestion }).meta({
  id: 'VideoInStatus',
  description: 'The state of an import: the copy of its file (`upload`) and its ingestion.',
  examples: [examples.videoInStatusExample],
});

export const video = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    userId: uuid,
    teamId: uuid,
    projectId: uuid,
    name: z.string(),
    description: z.string().nullable(),
    upload: videoUpload.nullable(),
    ingestion: videoIngestion,
    processing: videoProcessing.nullable(),
    masterVideo: z.object({ id: uuid, createdAt: dateTime, updatedAt: dateTime, videoFile }).nullable(),
    flags: z.object({
      isMaster: z.boolean(),
      isProcessing: z.boolean(),
      isProcessed: z.boolean(),
      isIngesting: z.boolean(),
      isIngested: z.boolean(),
      isClip: z.boolean(),
      isSample: z.boolean(),
    }),
    clipId: uuid.nullable(),
  })
  .meta({
    id: 'Video',
    description: 'A video: a master imported into the service, or a clip cut from one.',
    examples: [examples.videoExample],
  });

export const team = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    name: z.string(),
    apiEnabled: z.boolean(),
    freeClipEnabled: z.boolean().meta({
      description:
        "This service's extension (a team setting): whether a free 10-second clip is made of every ingested master (default true).",
      'x-reelin-extension': true,
    }),
  })
  .meta({
    id: 'Team',
    description: 'A team: its members share its projects, videos and webhooks.',
    examples: [examples.teamExample],
  });

export const project = z
  .object({ id: uuid, createdAt: dateTime, updatedAt: dateTime, name: z.string(), isSample: z.boolean(), teamId: uuid })
  .meta({
    id: 'Project',
    description: 'A project: a group of videos within a team.',
    examples: [examples.projectExample],
  });

export const account = z
  .object({
    user: z.object({
      id: uuid,
      createdAt: dateTime,
      updatedAt: dateTime,
      email: z.string(),
      name: z.string(),
      hasConfirmedEmail: z.boolean(),
    }),
    defaultTeam: team.nullable(),
  })
  .meta({
    id: 'Account',
    description: 'The user the API key belongs to, with their default team.',
    examples: [examples.accountExample],
  });

/**
 * The S3 bucket and key pair of an import from S3, as the contract has it, plus this service's
 * `endpoint` and `region` for self-hosted S3. The secret is validated but never quoted back.
 */
export const s3BucketAccess = z
  .object(
    {
      bucket: boundedString(3, 63).regex(/^[A-Za-z0-9._-]+$/, {
        message: 'must be a bucket name: letters, digits, dots, hyphens and underscores',
      }),
      accessKey: boundedString(1, 128),
      secretAccessKey: boundedString(1, 256),
      endpoint: boundedString(1, 2048).optional().meta({
        description:
          "This service's extension: the base URL of a self-hosted S3 service (MinIO, Ceph, R2, ...); it must be one the operator allow-listed in REELIN_S3_IMPORT_ENDPOINTS. Absent: AWS.",
        'x-reelin-extension': true,
      }),
      region: boundedString(1, 64)
        .regex(/^[a-z0-9-]+$/, { message: 'must be a region name such as eu-west-1' })
        .optional()
        .meta({
          description:
            "This service's extension: the signing region. Absent: looked up for AWS, REELIN_S3_IMPORT_REGION (default us-east-1) for an endpoint.",
          'x-reelin-extension': true,
        }),
    },
    { error: (issue) => (issue.input === undefined ? 'is required' : 'must be an object') },
  )
  .meta({ id: 'S3Bucket', examples: [examples.s3BucketExample] });

/** An ingestion artifact as a pre-signed link (this service's extension). */
export const videoArtifact = z
  .object({
    id: uuid,
    kind: z.enum(['THUMBNAIL', 'POSTER', 'FULL_FRAME', 'WEB_VIDEO']),
    position: z.number().int().describe('Order within its kind, from 0.'),
    timestampMillis: z.number().int().nullable().describe('Where in the video the picture was taken.'),
    width: z.number().int(),
    height: z.number().int(),
    sizeBytes: z.number().int(),
    mimeType: z.string(),
    presignedUrl: z.string(),
    expiresAt: dateTime,
  })
  .meta({
    id: 'VideoArtifact',
    description: "This service's extension: an artifact of a full ingestion, as a pre-signed link.",
    examples: [examples.videoArtifactExample],
  });

export const videoArtifactList = z.object({ videoId: uuid, items: z.array(videoArtifact) }).meta({
  id: 'VideoArtifactList',
  description: "This service's extension: the artifacts of a video, as pre-signed links, in order.",
  examples: [examples.videoArtifactListExample],
});

/** A pre-signed link to a video's file, with what a download needs to know beforehand. */
export const videoDownloadLink = z
  .object({
    videoId: uuid,
    presignedUrl: z.string(),
    expiresAt: dateTime,
    fileSize: z.number().int(),
    mimeType: z.string(),
    fileExtension: z.string(),
    suggestedFileName: z.string(),
    crc32cChecksum: z.number().int(),
  })
  .meta({
    id: 'VideoDownloadLink',
    description: "A pre-signed link to a video's file, with what a download needs to know beforehand.",
    examples: [examples.videoDownloadLinkExample],
  });

/** One of the contract's event types, as a subscription or a test event names it. */
export const webhookEventType = z.enum(eventTypes as [EventType, ...EventType[]], {
  message: `must be one of ${eventTypes.join(', ')}`,
});

function boundedInteger(min: number, max: number) {
  return z
    .number({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a number') })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be ${min} to ${max}` })
    .max(max, { message: `must be ${min} to ${max}` });
}

const secretDescription =
  "This service's extension: a Standard Webhooks secret (`whsec_` followed by the base64 of 24 to 64 random bytes). When set, " +
  'every delivery also carries `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, ' +
  'so receivers can verify with the Standard Webhooks libraries. Write-only: responses show only `hasSecret`.';

/** The fields of a webhook as create and change requests give them, with the rules each obeys. */
export const webhookFields = {
  name: boundedString(1, 47),
  description: boundedString(1, 255),
  url: boundedString(1, 4096).describe(
    'HTTPS URL the events are POSTed to; the same rules as the import URL (https, allowed port, every address of the host public), checked now and again before every delivery.',
  ),
  rateLimitPerSecond: boundedInteger(1, 1000).describe(
    "At most this many requests per second to the URL, across all of the service's worker processes together.",
  ),
  maxTotalRetryDelayMinutes: boundedInteger(0, 1440).describe(
    'Failed deliveries are retried with exponential backoff and jitter until this many minutes after the event was dispatched; 0: no retry.',
  ),
  eventTypes: z
    .array(webhookEventType)
    .min(1, { message: 'must name 1 to 22 event types' })
    .max(22, { message: 'must name 1 to 22 event types' }),
  secret: z
    .string()
    .regex(standardWebhooksSecretPattern, { message: 'must be whsec_ followed by the base64 of 24 to 64 bytes' })
    .meta({ description: secretDescription, 'x-reelin-extension': true }),
};

export const webhook = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    teamId: uuid,
    name: z.string(),
    description: z.string().nullable(),
    url: z.string(),
    rateLimitPerSecond: z.number().int(),
    maxTotalRetryDelayMinutes: z.number().int(),
    eventTypes: z.array(z.string()),
    active: z.boolean(),
    hasSecret: z.boolean().meta({
      description:
        "This service's extension: whether deliveries also carry a Standard Webhooks signature (see `secret`).",
      'x-reelin-extension': true,
    }),
  })
  .meta({
    id: 'Webhook',
    description: 'A subscription of a team to video events, delivered to its URL.',
    examples: [examples.webhookExample],
  });

const webhookPayload = z
  .object({
    id: uuid,
    webhookId: uuid,
    eventType: z.string(),
    occurredAt: dateTime,
    test: z.boolean(),
    attemptCount: z.number().int(),
    data: z.object({ type: z.literal('VIDEO'), videoId: uuid }),
  })
  .meta({ id: 'WebhookPayload', examples: [examples.webhookEventExample.payload] });

export const webhookEvent = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    teamId: uuid,
    payload: webhookPayload,
    nextAttemptEarliestAt: dateTime
      .nullable()
      .describe('When the next attempt may start; null once the delivery succeeded or gave up.'),
    successful: z.boolean(),
    responses: z.array(
      z.object({
        requestedAt: dateTime,
        responseTimeMillis: z.number().int(),
        statusCode: z.number().int().nullable(),
        responseBody: z.string().nullable().describe('The first 100 characters of the response body.'),
        errorCode: z.string().nullable(),
        errorMessage: z.string().nullable(),
        responseRetryAt: dateTime.nullable().describe('The time a 429 or 503 response asked for with Retry-After.'),
        responseHeaders: z.record(z.string(), z.string()).nullable().describe('The headers of a failed response.'),
      }),
    ),
  })
  .meta({
    id: 'WebhookEvent',
    description: 'One delivery of an event to a webhook, with every attempt.',
    examples: [examples.webhookEventExample],
  });

export const webhookPublicKey = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    algorithm: z.literal('EC'),
    publicKey: z.string().describe('Base64 DER SubjectPublicKeyInfo of an ECDSA P-256 key.'),
    expiresAt: dateTime
      .nullable()
      .describe('Null for the active key; set on a key replaced by a rotation, which stays valid until then.'),
  })
  .meta({
    id: 'WebhookPublicKey',
    description: 'A public key that verifies the ECDSA signatures of deliveries.',
    examples: [examples.webhookPublicKeyExample],
  });
