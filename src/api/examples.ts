/**
 * The examples of the OpenAPI document: realistic bodies, as this service would answer them. Each
 * is attached where its schema is declared (`.meta({ examples: [...] })` in schemas.ts and the
 * routes). They cannot be typed by those schemas (the schemas' own types would then depend on
 * them), so a test validates every example in the document against the schema beside it instead:
 * an example cannot drift from the contract.
 */
/** The objects the examples name, so that they refer to one another as real answers do. */
export const exampleIds = {
  user: '3f8e2c1a-5b7d-4e9f-8a6c-2d1b0e9f7a53',
  team: '9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f',
  project: 'c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60',
  video: '5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25',
  clip: 'a2f4c6e8-0b1d-4f3a-8c5e-7d9b1a3c5e70',
  artifact: '7c3e5a1f-9b2d-4e6c-8a0f-3d5b7e9c1a42',
  webhook: 'e6b8d0f2-4a6c-4e8a-b1d3-5f7a9c1e3b86',
  delivery: '1d3f5b7a-9c0e-4a2c-9e4f-6b8d0a2c4e19',
  event: '4b6d8f0a-2c4e-4a6b-8d0f-9e1c3a5b7d28',
  publicKey: '8a0c2e4b-6d8f-4b1a-9c3e-5d7f9b1d3f64',
  request: '2c4e6a8b-0d1f-4c3e-a5b7-9d1f3b5d7f90',
} as const;

const copiedAt = '2026-11-28T10:07:50.123Z';
const ingestedAt = '2026-11-28T10:12:31.402Z';
const expiresAt = '2026-11-28T10:30:00.000Z';
const fileSize = 2_147_483_648;

export const videoFileExample = {
  name: 'interview-4k.mp4',
  size: fileSize,
  type: 'video/mp4',
  containerName: 'MPEG-4',
  lastModified: '2026-11-27T16:42:10.000Z',
};

export const videoUploadExample = {
  file: videoFileExample,
  uploadState: {
    updatedAt: copiedAt,
    uploadStatus: 'IN_PROGRESS',
    progressPercentage: 42,
    bytesCopied: 901_943_132,
    totalBytes: fileSize,
    bytesPerSecond: 187_432_960,
    etaSeconds: 7,
  },
};

export const videoMetadataExample = {
  containerName: 'MP4',
  longContainerName: 'QuickTime / MOV',
  codecName: 'h264',
  longCodecName: 'H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10',
  pixelFormatName: 'yuv420p',
  primaryBitDepth: 8,
  frameWidth: 3840,
  frameHeight: 2160,
  displayAspectRatio: { ratio: 1.78, tag: '16:9' },
  scanning: { metadata: 'PROGRESSIVE', heuristics: 'PROGRESSIVE' },
  averageFrameRate: { frameRate: 29.97, rational: '30000:1001' },
  durationInMillis: 754_088,
  totalFrames: 22_600,
  size: fileSize,
  videoStreamSize: 2_117_918_720,
  colorRangeName: 'tv',
  colorSpaceName: 'bt709',
  colorTransferName: 'bt709',
  colorPrimariesName: 'bt709',
  hdrStandardName: null,
};

export const qualityAssessmentExample = {
  metrics: [
    { name: 'noise', sampleMean: 1.84, subjectiveLabel: 'good', subjectiveScore: 3.6 },
    { name: 'details', sampleMean: 2.31, subjectiveLabel: 'excellent', subjectiveScore: 4.2 },
    { name: 'colors', sampleMean: 38.5, subjectiveLabel: 'good', subjectiveScore: 3.9 },
    { name: 'compression', sampleMean: 4.7, subjectiveLabel: 'excellent', subjectiveScore: 4.4 },
  ],
  overallSubjectiveScore: 4,
};

export const videoIngestionExample = {
  ingestionState: {
    updatedAt: ingestedAt,
    etaSeconds: 0,
    ingestionStatus: 'DONE',
    progressPercentage: 100,
    webVideoAvailable: true,
    thumbnailsAvailable: true,
    fullFramesAvailable: true,
    videoMetadataAvailable: true,
  },
  metadata: videoMetadataExample,
  qualityAssessment: qualityAssessmentExample,
};

/** The master's copy once it is DONE, as the video and the status show it after ingestion. */
const doneUpload = {
  file: videoFileExample,
  uploadState: {
    updatedAt: copiedAt,
    uploadStatus: 'DONE',
    progressPercentage: 100,
    bytesCopied: fileSize,
    totalBytes: fileSize,
    bytesPerSecond: null,
    etaSeconds: 0,
  },
};

/** A copy just started: the answer of an import, before the ingestion. */
export const videoInStatusExample = {
  videoId: exampleIds.video,
  upload: videoUploadExample,
  ingestion: {
    ingestionState: {
      updatedAt: copiedAt,
      etaSeconds: null,
      ingestionStatus: 'INITIAL',
      progressPercentage: 0,
      webVideoAvailable: false,
      thumbnailsAvailable: false,
      fullFramesAvailable: false,
      videoMetadataAvailable: false,
    },
    metadata: null,
    qualityAssessment: null,
  },
};

export const videoProcessingExample = {
  processingState: {
    updatedAt: '2026-11-28T10:12:45.918Z',
    etaSeconds: 0,
    processingStatus: 'DONE',
    progressPercentage: 100,
  },
  sourceVideo: { videoId: exampleIds.video, startPositionMilliseconds: 0, endPositionMilliseconds: 10_000 },
};

/** A fully ingested master with its free clip. */
export const videoExample = {
  id: exampleIds.video,
  createdAt: '2026-11-28T10:07:38.517Z',
  updatedAt: ingestedAt,
  userId: exampleIds.user,
  teamId: exampleIds.team,
  projectId: exampleIds.project,
  name: 'Interview, camera A',
  description: 'Raw 4K footage from the first shooting day.',
  upload: doneUpload,
  ingestion: videoIngestionExample,
  processing: null,
  masterVideo: null,
  flags: {
    isMaster: true,
    isProcessing: false,
    isProcessed: false,
    isIngesting: false,
    isIngested: true,
    isClip: false,
    isSample: false,
  },
  clipId: exampleIds.clip,
};

/** The free clip of `videoExample`: cut, then ingested for metadata. */
export const clipExample = {
  ...videoExample,
  id: exampleIds.clip,
  createdAt: '2026-11-28T10:12:31.950Z',
  updatedAt: '2026-11-28T10:12:52.204Z',
  name: 'Interview, camera A (clip)',
  description: null,
  upload: null,
  ingestion: {
    ...videoIngestionExample,
    ingestionState: {
      ...videoIngestionExample.ingestionState,
      updatedAt: '2026-11-28T10:12:52.204Z',
      webVideoAvailable: false,
      thumbnailsAvailable: false,
      fullFramesAvailable: false,
    },
    metadata: { ...videoMetadataExample, durationInMillis: 10_010, totalFrames: 300, size: 28_734_012 },
    qualityAssessment: null,
  },
  processing: videoProcessingExample,
  masterVideo: {
    id: exampleIds.video,
    createdAt: videoExample.createdAt,
    updatedAt: videoExample.updatedAt,
    videoFile: videoFileExample,
  },
  flags: { ...videoExample.flags, isMaster: false, isProcessed: true, isClip: true },
  clipId: null,
};

export const teamExample = {
  id: exampleIds.team,
  createdAt: '2026-01-14T09:00:00.000Z',
  updatedAt: '2026-06-02T13:25:11.870Z',
  name: 'Acme Post-Production',
  apiEnabled: true,
  freeClipEnabled: true,
};

export const projectExample = {
  id: exampleIds.project,
  createdAt: '2026-03-09T08:30:00.000Z',
  updatedAt: '2026-03-09T08:30:00.000Z',
  name: 'Documentary 2026',
  isSample: false,
  teamId: exampleIds.team,
};

export const accountExample = {
  user: {
    id: exampleIds.user,
    createdAt: '2026-01-14T09:00:00.000Z',
    updatedAt: '2026-01-14T09:00:00.000Z',
    email: 'editor@example.com',
    name: 'Robin Editor',
    hasConfirmedEmail: true,
  },
  defaultTeam: teamExample,
};

export const videoArtifactExample = {
  id: exampleIds.artifact,
  kind: 'THUMBNAIL',
  position: 0,
  timestampMillis: 37_700,
  width: 320,
  height: 180,
  sizeBytes: 14_382,
  mimeType: 'image/jpeg',
  presignedUrl: `https://reelin.example.com/api/downloads/${exampleIds.video}/artifacts/${exampleIds.artifact}/interview-4k-thumbnail-01.jpg?expires=1795861800&signature=P17tyy9v5v7ZFfotCHd1SiAFZOGc7jwu7UuFECfOaIs`,
  expiresAt,
};

export const webVideoArtifactExample = {
  id: '6f8a0c2e-4b6d-4f8a-9c1e-3b5d7f9a1c37',
  kind: 'WEB_VIDEO',
  position: 0,
  timestampMillis: null,
  width: 1920,
  height: 1080,
  sizeBytes: 98_304_512,
  mimeType: 'video/mp4',
  presignedUrl: `https://reelin.example.com/api/downloads/${exampleIds.video}/artifacts/6f8a0c2e-4b6d-4f8a-9c1e-3b5d7f9a1c37/interview-4k-web.mp4?expires=1795861800&signature=-L5KifIywcgtBuuX4oN7XQS89h8aMG-xB1O4W5nDmpk`,
  expiresAt,
};

export const videoArtifactListExample = {
  videoId: exampleIds.video,
  items: [videoArtifactExample],
};

export const videoDownloadLinkExample = {
  videoId: exampleIds.video,
  presignedUrl: `https://reelin.example.com/api/downloads/${exampleIds.video}/interview-4k.mp4?expires=1795861800&signature=HYj0vBEnK_iq0Bve2m0YHFdB9r3fwk7pFPu_roKxkvU`,
  expiresAt,
  fileSize,
  mimeType: 'video/mp4',
  fileExtension: 'mp4',
  suggestedFileName: 'interview-4k.mp4',
  crc32cChecksum: 2_736_188_417,
};

export const webhookExample = {
  id: exampleIds.webhook,
  createdAt: '2026-11-20T14:02:09.331Z',
  updatedAt: '2026-11-20T14:02:09.331Z',
  teamId: exampleIds.team,
  name: 'Ingest notifications',
  description: 'Tells the editing suite when a master is ready.',
  url: 'https://hooks.example.com/reelin',
  rateLimitPerSecond: 10,
  maxTotalRetryDelayMinutes: 180,
  eventTypes: ['video_in.done', 'video_in.failed', 'video_in_ingestion.done'],
  active: true,
  hasSecret: true,
};

export const webhookEventExample = {
  id: exampleIds.delivery,
  createdAt: '2026-11-28T10:07:51.004Z',
  updatedAt: '2026-11-28T10:07:51.612Z',
  teamId: exampleIds.team,
  payload: {
    id: exampleIds.event,
    webhookId: exampleIds.webhook,
    eventType: 'video_in.done',
    occurredAt: '2026-11-28T10:07:50.998Z',
    test: false,
    attemptCount: 1,
    data: { type: 'VIDEO', videoId: exampleIds.video },
  },
  nextAttemptEarliestAt: null,
  successful: true,
  responses: [
    {
      requestedAt: '2026-11-28T10:07:51.020Z',
      responseTimeMillis: 142,
      statusCode: 200,
      responseBody: '{"received":true}',
      errorCode: null,
      errorMessage: null,
      responseRetryAt: null,
      responseHeaders: null,
    },
  ],
};

export const webhookPublicKeyExample = {
  id: exampleIds.publicKey,
  createdAt: '2026-10-01T00:00:00.000Z',
  updatedAt: '2026-10-01T00:00:00.000Z',
  algorithm: 'EC',
  publicKey:
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4W50IuOXfVfjFbt6IG0QOmlyK5ZMCVgnQ2Y9GTDoWDLGq6weboxcPvz8GdYpQ7smtRYifTLfw3nEzmm81YY0qA==',
  expiresAt: null,
};

/** AWS's documented example key pair: a secret is never quoted back, but a request sends one. */
export const s3BucketExample = {
  bucket: 'acme-masters',
  accessKey: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  region: 'eu-west-1',
};

/** A page of one item, as a list answers it. */
export function pageExample<T>(item: T) {
  return { pageNumber: 0, pageSize: 10, numberOfElements: 1, totalPages: 1, totalElements: 1, items: [item] };
}
