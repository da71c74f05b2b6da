/**
 * The typed job catalog: every job name, its payload, and its queue policy. Payloads carry ids and
 * intent, never entities: a handler reloads the state it needs.
 */

export interface JobPayloads {
  /** Copy (or resume copying) the source file of a video import into storage. */
  'copy-video': { videoId: string };
  /** A copy job that exhausted its retries (its process kept dying): mark the import failed. */
  'copy-video-exhausted': { videoId: string };
  /** Ingest a stored video (a copied master or a cut clip): metadata, and with full ingestion everything else. */
  'ingest-video': { videoId: string };
  /** An ingestion job that exhausted its retries: mark the ingestion failed. */
  'ingest-video-exhausted': { videoId: string };
  /** Cut a clip's window out of its master into a file of its own. */
  'cut-clip': { videoId: string };
  /** A clip job that exhausted its retries: mark the clip's processing failed. */
  'cut-clip-exhausted': { videoId: string };
  /** Abort the store's multipart uploads no import needs and delete expired S3 key pairs of failed imports (see sweep-uploads.job.ts); asked for periodically by workers. */
  'sweep-uploads': Record<string, never>;
}

export type JobName = keyof JobPayloads;

export interface JobPolicy {
  /** How often a job that threw (or whose worker died) is tried again. */
  retryLimit: number;
  retryDelaySeconds: number;
  retryDelayMaxSeconds: number;
  /** Upper bound on one attempt's run time. */
  expireInSeconds: number;
  /** A worker that stops heartbeating for this long is presumed dead and its job is retried elsewhere. */
  heartbeatSeconds: number | null;
  /** Where the payload goes when the retries are exhausted. */
  deadLetter: JobName | null;
  /** Jobs with the same key: at most one waiting and one running (pg-boss's `stately` policy); null: no limit. */
  singletonKeyOf: ((payload: never) => string) | null;
}

/** Marking an operation failed is quick and safe to repeat. */
const deadLetterPolicy = {
  retryLimit: 10,
  retryDelaySeconds: 5,
  retryDelayMaxSeconds: 300,
  expireInSeconds: 60,
  heartbeatSeconds: null,
  deadLetter: null,
  singletonKeyOf: null,
} as const satisfies JobPolicy;

export const jobPolicies = {
  'copy-video': {
    retryLimit: 20,
    retryDelaySeconds: 1,
    retryDelayMaxSeconds: 60,
    // pg-boss caps a run at 24 h; a longer copy is simply resumed from its recorded parts by the
    // next attempt. Liveness comes from the heartbeat.
    expireInSeconds: 23 * 3600,
    heartbeatSeconds: 10,
    deadLetter: 'copy-video-exhausted',
    // Two workers must never copy the same import at once.
    singletonKeyOf: (payload: JobPayloads['copy-video']) => payload.videoId,
  },
  'copy-video-exhausted': deadLetterPolicy,
  'ingest-video': {
    // Media failures (an unreadable file) end the ingestion at once; retries are for crashes and
    // for the database or storage failing under it.
    retryLimit: 3,
    retryDelaySeconds: 5,
    retryDelayMaxSeconds: 120,
    expireInSeconds: 23 * 3600,
    heartbeatSeconds: 10,
    deadLetter: 'ingest-video-exhausted',
    singletonKeyOf: (payload: JobPayloads['ingest-video']) => payload.videoId,
  },
  'ingest-video-exhausted': deadLetterPolicy,
  'cut-clip': {
    retryLimit: 3,
    retryDelaySeconds: 5,
    retryDelayMaxSeconds: 120,
    expireInSeconds: 6 * 3600,
    heartbeatSeconds: 10,
    deadLetter: 'cut-clip-exhausted',
    singletonKeyOf: (payload: JobPayloads['cut-clip']) => payload.videoId,
  },
  'cut-clip-exhausted': deadLetterPolicy,
  'sweep-uploads': {
    // The next periodic request is the retry.
    retryLimit: 0,
    retryDelaySeconds: 60,
    retryDelayMaxSeconds: 60,
    expireInSeconds: 3600,
    heartbeatSeconds: null,
    deadLetter: null,
    // One sweep waiting and one running across the deployment, however many workers ask.
    singletonKeyOf: () => 'sweep-uploads',
  },
} as const satisfies Record<JobName, JobPolicy>;

export interface JobContext {
  jobId: string;
  /** Aborted when the job's claim is lost (it expired and another worker took it over) or the worker stops. */
  signal: AbortSignal;
}

export type JobHandler<N extends JobName> = (payload: JobPayloads[N], context: JobContext) => Promise<void>;

/** One handler per job name: a missing handler is a compile error where this is built. */
export type JobHandlers = { [N in JobName]: JobHandler<N> };

export const jobNames = Object.keys(jobPolicies) as JobName[];
