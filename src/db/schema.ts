/**
 * The relational schema (Drizzle). The same forward-only migrations, generated from this file by
 * drizzle-kit into drizzle/, run on PostgreSQL and on PGlite.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
};

const id = () => uuid('id').primaryKey().defaultRandom();

export const users = pgTable(
  'users',
  {
    id: id(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    hasConfirmedEmail: boolean('has_confirmed_email').notNull().default(false),
    ...timestamps,
  },
  (table) => [uniqueIndex('users_email_unique').on(sql`lower(${table.email})`)],
);

export const teams = pgTable('teams', {
  id: id(),
  name: text('name').notNull(),
  apiEnabled: boolean('api_enabled').notNull().default(true),
  /** This service's own team setting: whether a free 10-second clip is made of every ingested master. */
  freeClipEnabled: boolean('free_clip_enabled').notNull().default(true),
  ...timestamps,
});

export const teamMembers = pgTable(
  'team_members',
  {
    teamId: uuid('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['OWNER', 'MEMBER'] }).notNull(),
    createdAt: timestamps.createdAt,
  },
  (table) => [primaryKey({ columns: [table.teamId, table.userId] }), index('team_members_user_idx').on(table.userId)],
);

export const projects = pgTable(
  'projects',
  {
    id: id(),
    teamId: uuid('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    isSample: boolean('is_sample').notNull().default(false),
    isDefault: boolean('is_default').notNull().default(false),
    ...timestamps,
  },
  (table) => [
    index('projects_team_idx').on(table.teamId, table.createdAt),
    uniqueIndex('projects_one_default_per_team')
      .on(table.teamId)
      .where(sql`${table.isDefault}`),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    active: boolean('active').notNull().default(true),
    /** SHA-256 of the key, hex. Keys are 256-bit random secrets, so a fast hash is enough. */
    keyHash: text('key_hash').notNull(),
    /** The key's last three characters, for `apiKeyHidden`. */
    keyHint: text('key_hint').notNull(),
    deletionEligibleAt: timestamp('deletion_eligible_at', { withTimezone: true, precision: 3 }),
    ...timestamps,
  },
  (table) => [uniqueIndex('api_keys_hash_unique').on(table.keyHash), index('api_keys_user_idx').on(table.userId)],
);

export const videos = pgTable(
  'videos',
  {
    id: id(),
    teamId: uuid('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'restrict' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'restrict' }),
    masterVideoId: uuid('master_video_id').references((): AnyPgColumn => videos.id, { onDelete: 'cascade' }),
    isClip: boolean('is_clip').notNull().default(false),
    isSample: boolean('is_sample').notNull().default(false),
    name: text('name').notNull(),
    description: text('description'),
    fileName: text('file_name').notNull(),
    fileSizeBytes: bigint('file_size_bytes', { mode: 'number' }),
    mimeType: text('mime_type').notNull(),
    containerName: text('container_name'),
    fileLastModified: timestamp('file_last_modified', { withTimezone: true, precision: 3 }),
    /** Where the file lives in the BlobStore once it is complete; null while it is being copied. */
    storageKey: text('storage_key'),
    crc32c: bigint('crc32c', { mode: 'number' }),
    ...timestamps,
  },
  (table) => [
    index('videos_team_created_idx').on(table.teamId, table.createdAt),
    index('videos_master_idx').on(table.masterVideoId),
    index('videos_project_idx').on(table.projectId),
  ],
);

/** The copy of a master video from an HTTPS URL or an S3 object: the source, its validators, and progress. */
export const videoImports = pgTable(
  'video_imports',
  {
    videoId: uuid('video_id')
      .primaryKey()
      .references(() => videos.id, { onDelete: 'cascade' }),
    /** Where the file comes from; an S3 object's requests are signed with `sourceCredentials`. */
    sourceKind: text('source_kind', { enum: ['https', 's3'] })
      .notNull()
      .default('https'),
    /** The URL as the user gave it; for S3, `s3://<bucket>/<key>`. */
    sourceUrl: text('source_url').notNull(),
    /** S3 only: the service's base URL (the regional AWS endpoint, or an allow-listed one), the signing region, bucket, key and addressing style. */
    s3Endpoint: text('s3_endpoint'),
    s3Region: text('s3_region'),
    s3Bucket: text('s3_bucket'),
    s3ObjectKey: text('s3_object_key'),
    s3Addressing: text('s3_addressing', { enum: ['virtual-hosted', 'path'] }),
    /** S3 only: the key pair as JSON, sealed (AES-256-GCM) under the key-encryption key; null once the import is DONE. */
    sourceCredentials: text('source_credentials'),
    /** The URL the parts are fetched from: the last hop of the probe's redirects. */
    fetchUrl: text('fetch_url').notNull(),
    /** The addresses the fetch URL's host resolved to when it was checked; every connection goes only to these. */
    pinnedAddresses: jsonb('pinned_addresses').$type<string[]>().notNull(),
    totalBytes: bigint('total_bytes', { mode: 'number' }).notNull(),
    partSizeBytes: bigint('part_size_bytes', { mode: 'number' }).notNull(),
    etag: text('etag'),
    lastModified: text('last_modified'),
    expectedCrc32c: bigint('expected_crc32c', { mode: 'number' }),
    skipChecksumValidation: boolean('skip_checksum_validation').notNull().default(false),
    maxConnections: integer('max_connections').notNull(),
    fullIngestion: boolean('full_ingestion').notNull(),
    status: text('status', { enum: ['INITIAL', 'IN_PROGRESS', 'DONE', 'FAILED'] }).notNull(),
    bytesCopied: bigint('bytes_copied', { mode: 'number' }).notNull().default(0),
    progressPercentage: integer('progress_percentage').notNull().default(0),
    /** The copy's rate at its last checkpoint (see CopyCheckpointer); null when not measured or not running. */
    bytesPerSecond: bigint('bytes_per_second', { mode: 'number' }),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    errorDetails: jsonb('error_details').$type<Record<string, unknown>>(),
    /** Store-specific state of the upload in progress (e.g. an S3 multipart upload id). */
    uploadState: jsonb('upload_state').$type<Record<string, unknown>>(),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }),
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
    ...timestamps,
  },
  (table) => [index('video_imports_status_idx').on(table.status)],
);

/** One copied part of an import: recorded only after its bytes are durable in storage. */
export const importParts = pgTable(
  'import_parts',
  {
    videoId: uuid('video_id')
      .notNull()
      .references(() => videoImports.videoId, { onDelete: 'cascade' }),
    partIndex: integer('part_index').notNull(),
    offsetBytes: bigint('offset_bytes', { mode: 'number' }).notNull(),
    lengthBytes: bigint('length_bytes', { mode: 'number' }).notNull(),
    crc32c: bigint('crc32c', { mode: 'number' }).notNull(),
    /** Store-specific receipt of the part (e.g. an S3 part ETag). */
    receipt: jsonb('receipt').$type<Record<string, unknown>>(),
    createdAt: timestamps.createdAt,
  },
  (table) => [primaryKey({ columns: [table.videoId, table.partIndex] })],
);

/** The state every long operation (ingestion, clip processing) keeps: status, progress, failure. */
const operationState = {
  status: text('status', { enum: ['INITIAL', 'IN_PROGRESS', 'DONE', 'FAILED'] }).notNull(),
  progressPercentage: integer('progress_percentage').notNull().default(0),
  etaSeconds: integer('eta_seconds'),
  errorCode: text('error_code'),
  errorMessage: text('error_message'),
  errorDetails: jsonb('error_details').$type<Record<string, unknown>>(),
  startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }),
  finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
};

/** The ingestion of a stored video file (a copied master or a cut clip): state, results, failure. */
export const videoIngestions = pgTable('video_ingestions', {
  videoId: uuid('video_id')
    .primaryKey()
    .references(() => videos.id, { onDelete: 'cascade' }),
  /** Metadata only (false), or also stills, web video, quality and scan-type analysis (true). */
  full: boolean('full').notNull(),
  ...operationState,
  metadata: jsonb('metadata').$type<Record<string, unknown>>(),
  qualityAssessment: jsonb('quality_assessment').$type<Record<string, unknown>>(),
  /** Features of a full ingestion that the installed ffmpeg cannot do, with the reason. */
  unavailableFeatures: jsonb('unavailable_features')
    .$type<{ feature: string; reason: string }[]>()
    .notNull()
    .default([]),
  webVideoAvailable: boolean('web_video_available').notNull().default(false),
  thumbnailsAvailable: boolean('thumbnails_available').notNull().default(false),
  fullFramesAvailable: boolean('full_frames_available').notNull().default(false),
  videoMetadataAvailable: boolean('video_metadata_available').notNull().default(false),
  ...timestamps,
});

/** Files made by ingestion: thumbnails, the poster, full frames and the web video. */
export const videoArtifacts = pgTable(
  'video_artifacts',
  {
    id: id(),
    videoId: uuid('video_id')
      .notNull()
      .references(() => videos.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['THUMBNAIL', 'POSTER', 'FULL_FRAME', 'WEB_VIDEO'] }).notNull(),
    /** Order within its kind (0 for the poster and the web video). */
    position: integer('position').notNull(),
    timestampMillis: integer('timestamp_millis'),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    mimeType: text('mime_type').notNull(),
    storageKey: text('storage_key').notNull(),
    createdAt: timestamps.createdAt,
  },
  (table) => [uniqueIndex('video_artifacts_kind_position_unique').on(table.videoId, table.kind, table.position)],
);

/** The cutting of a clip (a derived video) from its master: where, and how far it has got. */
export const clipProcessings = pgTable(
  'clip_processings',
  {
    videoId: uuid('video_id')
      .primaryKey()
      .references(() => videos.id, { onDelete: 'cascade' }),
    sourceVideoId: uuid('source_video_id')
      .notNull()
      .references(() => videos.id, { onDelete: 'cascade' }),
    startPositionMillis: integer('start_position_millis').notNull(),
    endPositionMillis: integer('end_position_millis').notNull(),
    ...operationState,
    ...timestamps,
  },
  (table) => [uniqueIndex('clip_processings_one_free_clip_per_master').on(table.sourceVideoId)],
);

/**
 * The outbox of stage transitions, written in the same transaction as the transition. No foreign
 * key to videos: `video.deleted` must outlive its video.
 */
export const events = pgTable(
  'events',
  {
    id: id(),
    /** Commit-independent order of recording, for listing events in the order they happened. */
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    teamId: uuid('team_id').notNull(),
    videoId: uuid('video_id').notNull(),
    type: text('type').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    /** Webhooks (issue 4): when the dispatcher turned the event into deliveries; null until then. */
    dispatchedAt: timestamp('dispatched_at', { withTimezone: true, precision: 3 }),
  },
  (table) => [
    index('events_video_idx').on(table.videoId, table.occurredAt),
    index('events_team_idx').on(table.teamId, table.occurredAt),
    // Webhooks (issue 4): the dispatcher's work list stays small however many events accumulate.
    index('events_undispatched_idx')
      .on(table.seq)
      .where(sql`${table.dispatchedAt} is null`),
  ],
);

/**
 * Secrets every process of a deployment shares, created on first start: the download-link signing
 * key (sealed under the key-encryption key), and on PostgreSQL without a configured one the
 * key-encryption key itself.
 */
export const serverSecrets = pgTable('server_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: timestamps.createdAt,
});

// ---------------------------------------------------------------------------------------------
// Webhooks (issue 4): subscriptions, deliveries with their attempts, send slots for the rate
// limit, and the ECDSA signing keys. Kept together so a merge with other schema work stays simple.
// ---------------------------------------------------------------------------------------------

/** A team's subscription to event types, delivered to an HTTPS URL. */
export const webhooks = pgTable(
  'webhooks',
  {
    id: id(),
    teamId: uuid('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    url: text('url').notNull(),
    rateLimitPerSecond: integer('rate_limit_per_second').notNull(),
    maxTotalRetryDelayMinutes: integer('max_total_retry_delay_minutes').notNull(),
    eventTypes: jsonb('event_types').$type<string[]>().notNull(),
    active: boolean('active').notNull(),
    /**
     * The Standard Webhooks secret (`whsec_<base64>`) sealed with AES-256-GCM under the key-encryption
     * key (`v1.<iv>.<tag>.<ciphertext>`, see domain/secret-box.ts), or null when only the ECDSA
     * signature is sent. Versions before sealing stored it in plaintext; start-up seals such rows.
     */
    sealedSecret: text('secret'),
    ...timestamps,
  },
  (table) => [index('webhooks_team_idx').on(table.teamId, table.createdAt)],
);

/**
 * One event to deliver to one webhook (the contract's WebhookEvent); its id is the payload's `id`,
 * the same for every attempt. `eventId` is null for test events; (event, webhook) is unique, so an
 * event is dispatched to a webhook at most once.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    teamId: uuid('team_id').notNull(),
    eventId: uuid('event_id'),
    eventType: text('event_type').notNull(),
    videoId: uuid('video_id').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    test: boolean('test').notNull().default(false),
    status: text('status', { enum: ['PENDING', 'SUCCEEDED', 'FAILED'] })
      .notNull()
      .default('PENDING'),
    attemptCount: integer('attempt_count').notNull().default(0),
    /** When the next attempt may start; null once the delivery succeeded or gave up. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }),
    /** No retry starts after this (createdAt + maxTotalRetryDelayMinutes at dispatch). */
    retryUntil: timestamp('retry_until', { withTimezone: true, precision: 3 }).notNull(),
    /** A worker claimed the delivery until then; after it, another worker may take it over. */
    leaseUntil: timestamp('lease_until', { withTimezone: true, precision: 3 }),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('webhook_deliveries_event_webhook_unique').on(table.eventId, table.webhookId),
    index('webhook_deliveries_due_idx')
      .on(table.nextAttemptAt)
      .where(sql`${table.status} = 'PENDING'`),
    index('webhook_deliveries_team_idx').on(table.teamId, table.createdAt),
    index('webhook_deliveries_webhook_due_idx')
      .on(table.webhookId, table.nextAttemptAt)
      .where(sql`${table.status} = 'PENDING'`),
    index('webhook_deliveries_webhook_idx').on(table.webhookId),
  ],
);

/** One HTTP attempt of a delivery, as the delivery log shows it. */
export const webhookDeliveryAttempts = pgTable(
  'webhook_delivery_attempts',
  {
    id: id(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attemptNumber: integer('attempt_number').notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true, precision: 3 }).notNull(),
    responseTimeMillis: integer('response_time_millis').notNull(),
    statusCode: integer('status_code'),
    responseBody: text('response_body'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    responseRetryAt: timestamp('response_retry_at', { withTimezone: true, precision: 3 }),
    responseHeaders: jsonb('response_headers').$type<Record<string, string>>(),
  },
  (table) => [index('webhook_delivery_attempts_delivery_idx').on(table.deliveryId, table.requestedAt)],
);

/** The rate limit's shared state: the earliest time the next request to the webhook may start. */
export const webhookSendSlots = pgTable('webhook_send_slots', {
  webhookId: uuid('webhook_id')
    .primaryKey()
    .references(() => webhooks.id, { onDelete: 'cascade' }),
  nextSlotAt: timestamp('next_slot_at', { withTimezone: true, precision: 6 }).notNull(),
});

/** ECDSA P-256 keys that sign deliveries; the private part is AES-256-GCM encrypted. */
export const webhookSigningKeys = pgTable('webhook_signing_keys', {
  id: id(),
  /** Base64 DER SubjectPublicKeyInfo. */
  publicKey: text('public_key').notNull(),
  /** `v1.<iv>.<tag>.<ciphertext>` (base64) of the PKCS#8 DER private key. */
  encryptedPrivateKey: text('encrypted_private_key').notNull(),
  /** First 16 hex digits of SHA-256 of the key-encryption key, to name a mismatch clearly. */
  encryptionKeyId: text('encryption_key_id').notNull(),
  /** Null for the active key; set when a rotation retired it (it stays listed until then). */
  expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }),
  ...timestamps,
});

/**
 * Connections running copies hold to one source host (`host:port`), so every worker together
 * stays under the per-host ceiling. A holder renews `expiresAt` while it copies; a row past it
 * belongs to a dead holder and no longer counts.
 */
export const hostLeases = pgTable(
  'host_leases',
  {
    id: id(),
    host: text('host').notNull(),
    videoId: uuid('video_id').notNull(),
    /** The job holding the lease, for logs and inspection. */
    holder: text('holder').notNull(),
    connections: integer('connections').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [index('host_leases_host_idx').on(table.host, table.expiresAt)],
);

/**
 * The per-team ceiling of running media work: each running ingestion or clip job holds one slot
 * of its team, renewed while it runs (a dead holder's slot expires). Every worker counts a team's
 * live slots under the team's lock before it starts media work (src/jobs/media-slots.ts).
 */
export const mediaSlotLeases = pgTable(
  'media_slot_leases',
  {
    id: id(),
    teamId: uuid('team_id').notNull(),
    videoId: uuid('video_id').notNull(),
    /** `ingestion` or `clip`. */
    kind: text('kind', { enum: ['ingestion', 'clip'] }).notNull(),
    /** The job holding the slot, for logs and inspection. */
    holder: text('holder').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [index('media_slot_leases_team_idx').on(table.teamId, table.expiresAt)],
);

/**
 * The API rate limit's shared state: requests each API key made in each fixed window (a window is
 * named by its start, on the database's clock). One row per key is live; older ones are deleted by
 * the key's next request.
 */
export const apiRateWindows = pgTable(
  'api_rate_windows',
  {
    apiKeyId: uuid('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    windowStart: timestamp('window_start', { withTimezone: true, precision: 3 }).notNull(),
    count: integer('count').notNull(),
  },
  (table) => [primaryKey({ columns: [table.apiKeyId, table.windowStart] })],
);

// ---------------------------------------------------------------------------------------------
// Live updates (issue 16): the change log the event stream reads (src/live/). Rows are written
// only by the triggers of migration 0008, at commit, so their order is the order of the commits.
// ---------------------------------------------------------------------------------------------

/**
 * One committed change a team's event stream shows: a video created or changed (`video`), deleted
 * (`video.deleted`), or a webhook delivery attempt recorded (`webhook.delivery`). `seq` is the
 * stream's cursor: triggers take it under one advisory lock at commit (see drizzle/0008), so a
 * reader that has seen `seq` n has seen every change committed before it.
 */
export const liveChanges = pgTable(
  'live_changes',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    teamId: uuid('team_id').notNull(),
    kind: text('kind', { enum: ['video', 'video.deleted', 'webhook.delivery'] }).notNull(),
    videoId: uuid('video_id'),
    webhookId: uuid('webhook_id'),
    deliveryId: uuid('delivery_id'),
    createdAt: timestamps.createdAt,
  },
  (table) => [
    index('live_changes_team_seq_idx').on(table.teamId, table.seq),
    index('live_changes_created_idx').on(table.createdAt),
  ],
);

/** One row: the highest `seq` pruning has deleted through; an older cursor cannot be resumed. */
export const liveChangePrunes = pgTable('live_change_prunes', {
  id: integer('id').primaryKey().default(1),
  prunedThroughSeq: bigint('pruned_through_seq', { mode: 'number' }).notNull(),
});
