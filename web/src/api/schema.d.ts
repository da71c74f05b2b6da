// Generated from openapi.json by `npm run web:api-types`; do not edit by hand.

export type paths = {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness
         * @description This service's extension. Answers 200 while the process runs; it checks nothing else. Needs no credentials.
         */
        get: operations["getLiveness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness: database, queue and storage reachable
         * @description This service's extension. Answers 200 when the database, the job queue and the storage each answer within 3 seconds, else 503 with each check up or down (why one failed goes to the log). Needs no credentials.
         */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/downloads/{videoId}/{fileName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download a video file through a pre-signed link
         * @description This service's extension. Serves the file. The signed link is the credential: no API key is needed. One byte range (`Range`, with `If-Range`) is answered 206; an unsatisfiable one 416. A link that is not valid or has expired is answered 403 ACCESS_DENIED, a file that no longer exists 404.
         */
        get: operations["downloadVideoFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        /**
         * A video file's headers through a pre-signed link
         * @description This service's extension. Answers as GET would, without the body. The signed link is the credential: no API key is needed. One byte range (`Range`, with `If-Range`) is answered 206; an unsatisfiable one 416. A link that is not valid or has expired is answered 403 ACCESS_DENIED, a file that no longer exists 404.
         */
        head: operations["getVideoFileHeaders"];
        patch?: never;
        trace?: never;
    };
    "/api/downloads/{videoId}/artifacts/{artifactId}/{fileName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download a thumbnail, full frame, poster or web video through a pre-signed link
         * @description This service's extension. Serves the file. The signed link is the credential: no API key is needed. One byte range (`Range`, with `If-Range`) is answered 206; an unsatisfiable one 416. A link that is not valid or has expired is answered 403 ACCESS_DENIED, a file that no longer exists 404.
         */
        get: operations["downloadVideoArtifactFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        /**
         * A thumbnail's, full frame's, poster's or web video's headers through a pre-signed link
         * @description This service's extension. Answers as GET would, without the body. The signed link is the credential: no API key is needed. One byte range (`Range`, with `If-Range`) is answered 206; an unsatisfiable one 416. A link that is not valid or has expired is answered 403 ACCESS_DENIED, a file that no longer exists 404.
         */
        head: operations["getVideoArtifactFileHeaders"];
        patch?: never;
        trace?: never;
    };
    "/api/v1/account": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The API key owner's account
         * @description The user the API key belongs to, with their default team (the oldest of their teams with the API enabled; null when none is).
         */
        get: operations["getAccount"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List your teams
         * @description Every team the API key's user belongs to, a page at a time.
         */
        get: operations["getTeams"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams/{teamId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a team
         * @description One of the caller's teams; another team is 404 TEAM_NOT_FOUND.
         */
        get: operations["getTeamById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Change a team's settings
         * @description This service's extension. `freeClipEnabled` turns the free 10-second clip of every ingested master on or off for the team.
         */
        patch: operations["updateTeamById"];
        trace?: never;
    };
    "/api/v1/projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List projects
         * @description The projects of one team (`teamId`, else the default team), a page at a time.
         */
        get: operations["getProjects"];
        put?: never;
        /**
         * Create a project
         * @description Creates a project in the selected team (`selectTeamId`, else the default team).
         */
        post: operations["createProject"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/default": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The team's default project
         * @description The project a video goes to when its import names none, in the selected team (`selectTeamId`, else the default team).
         */
        get: operations["getDefaultProject"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/projects/{projectId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a project
         * @description A project of any of the caller's teams.
         */
        get: operations["getProjectById"];
        put?: never;
        post?: never;
        /**
         * Delete a project without videos
         * @description Deletes a project that has no videos (409 otherwise); the default project cannot be deleted.
         */
        delete: operations["deleteProjectById"];
        options?: never;
        head?: never;
        /**
         * Rename a project
         * @description Without `name` (or without a body) nothing changes and the project is returned as it is.
         */
        patch: operations["updateProjectById"];
        trace?: never;
    };
    "/api/v1/videos/in/https": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Import a video from an HTTPS URL
         * @description Creates a master video and starts an asynchronous copy of the file at `url` with parallel HTTP range requests. The URL is checked (https, port, public addresses) and probed with a range request before anything is created.
         */
        post: operations["createMasterVideoFromHttps"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/in/s3": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Import a video from an S3 bucket
         * @description Creates a master video and starts an asynchronous copy of the object `objectKey` in `s3Bucket.bucket` with parallel signed range requests. The object is located (an AWS bucket's region is looked up) and probed with the key pair before anything is created; the key pair is stored encrypted until the copy is DONE and never returned. When S3 keeps a full-object CRC32C for the object, the copy is checked against it.
         */
        post: operations["createMasterVideoFromS3"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/in/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Status of a video import
         * @description The import's copy (`upload`) and ingestion state; poll it until both are DONE or one is FAILED.
         */
        get: operations["getVideoInStatus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/in/restart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume a failed import
         * @description Resumes a FAILED copy from the parts already copied. After a CRC32C mismatch, `skipChecksumValidation=true` accepts the copied bytes.
         */
        post: operations["restartVideoIn"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/in/abandon": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Abandon a failed import
         * @description Deletes a FAILED import, its video record and its data.
         */
        delete: operations["abandonVideoIn"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List videos
         * @description The videos of one team (`teamId`, else the default team), a page at a time, optionally of one project, derived from one master, or the master of one clip. This service's extension: also by the state of the copy or the ingestion, and by a part of the name.
         */
        get: operations["getVideos"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a video
         * @description A video of any of the caller's teams, with its copy, ingestion and processing state.
         */
        get: operations["getVideoById"];
        put?: never;
        post?: never;
        /**
         * Delete a video and everything derived from it
         * @description Optional body: the array of derived video ids the caller expects to be deleted with it; a different list answers 409 CONFLICTING_DERIVED_VIDEO_IDS. Returns the ids of the deleted videos.
         */
        delete: operations["deleteVideoById"];
        options?: never;
        head?: never;
        /**
         * Rename or describe a video
         * @description Changes the name and description given; fields left out stay as they are, and an empty body changes nothing.
         */
        patch: operations["updateVideoById"];
        trace?: never;
    };
    "/api/v1/videos/{videoId}/derived": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the videos derived from a video
         * @description The videos made from this video (its free clip, for a master), a page at a time.
         */
        get: operations["getDerivedVideos"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/out/https": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Get a pre-signed download URL for the video file
         * @description The URL is served by this service, supports HTTP range requests, and expires after `durationMinutes`. The response carries the file's CRC32C.
         */
        post: operations["generateVideoDownloadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/thumbnails": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List a video's thumbnails and poster
         * @description This service's extension. Made by a full ingestion: evenly spaced pictures (black and fade frames skipped) as small images, and one larger poster. 409 VIDEO_NOT_FULLY_INGESTED until they exist.
         */
        get: operations["getVideoThumbnails"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/full-frames": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List a video's full frames
         * @description This service's extension. The thumbnails' instants at full resolution, lossless (PNG). 409 VIDEO_NOT_FULLY_INGESTED until they exist.
         */
        get: operations["getVideoFullFrames"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/videos/{videoId}/web-video/out/https": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Get a pre-signed URL for the web video
         * @description This service's extension. H.264/AAC MP4 with faststart, at most 1080p, square pixels, progressive. The link answers HTTP range requests, so a browser can seek. 409 VIDEO_NOT_FULLY_INGESTED until it exists.
         */
        post: operations["generateWebVideoDownloadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List webhooks
         * @description The webhooks of one team (`teamId`, else the default team), a page at a time.
         */
        get: operations["getVideoWebhooks"];
        put?: never;
        /**
         * Create a webhook
         * @description At most 10 active webhooks per team (409 MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED). Deliveries are signed with ECDSA (X-Pixop-* headers) and, with a `secret`, also with Standard Webhooks headers.
         */
        post: operations["createVideoWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/public-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The public keys that verify delivery signatures
         * @description The active key and, during a rotation, the previous one with its `expiresAt`.
         */
        get: operations["getWebhookPublicKeys"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/public-keys/{publicKeyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One public key, by the X-Pixop-Public-Key-Id of a delivery
         * @description The public key a delivery's `X-Pixop-Public-Key-Id` names, also after a rotation replaced it, until it expires.
         */
        get: operations["getWebhookPublicKeyById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The delivery log
         * @description Every delivery of an event to a webhook, with every attempt. `webhookId` is this service's extension.
         */
        get: operations["getVideoWebhookEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/events/{webhookEventId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One delivery with its attempts
         * @description One delivery of an event to a webhook of any of the caller's teams, with every attempt.
         */
        get: operations["getVideoWebhookEventById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhookId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a webhook
         * @description A webhook of any of the caller's teams.
         */
        get: operations["getVideoWebhookById"];
        put?: never;
        post?: never;
        /**
         * Delete a webhook and its delivery log
         * @description Deletes the webhook together with its delivery log.
         */
        delete: operations["deleteVideoWebhookById"];
        options?: never;
        head?: never;
        /**
         * Change a webhook
         * @description Every field is optional; `secret: null` removes the Standard Webhooks secret. Use activate/deactivate to change `active`.
         */
        patch: operations["updateVideoWebhookById"];
        trace?: never;
    };
    "/api/v1/webhooks/{webhookId}/activate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Activate a webhook
         * @description At most 10 active webhooks per team (409 MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED).
         */
        post: operations["activateVideoWebhookById"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhookId}/deactivate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Deactivate a webhook
         * @description Pending deliveries wait until the webhook is active again (within their retry window).
         */
        post: operations["deactivateVideoWebhookById"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhookId}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a test event
         * @description Queues a delivery with `test: true`. `eventType` defaults to the webhook's first event type; `videoId` (a video of the team) defaults to the nil UUID. At most 1000 per team per 24 h (409 TOO_MANY_WEBHOOK_TEST_EVENTS); 409 WEBHOOK_NOT_ACTIVE for an inactive webhook or a type it is not subscribed to.
         */
        post: operations["testVideoWebhookById"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Follow changes live (server-sent events)
         * @description This service's extension: a `text/event-stream` of the team's changes (`teamId`, else the default team), so a client need not poll. It starts with `retry: 2000` and a `ready` event; then `video` (the video as `GET /api/v1/videos/{videoId}` presents it, when it is created or its state changes), `video.deleted` (`{videoId}`) and `webhook.delivery` (`{webhookId, webhookEventId}`, when a delivery attempt is recorded); a `: heartbeat` comment keeps it alive. Each event's `id` is a cursor: reconnect with `Last-Event-ID` to get the latest state of everything changed since, or a `reset` event (refetch everything) when that cursor is no longer kept. Streams per API key are limited (429). See docs/API.md.
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
};
export type webhooks = Record<string, never>;
export type components = {
    schemas: {
        /**
         * @example {
         *       "bucket": "acme-masters",
         *       "accessKey": "AKIAIOSFODNN7EXAMPLE",
         *       "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
         *       "region": "eu-west-1"
         *     }
         */
        S3BucketInput: {
            bucket: string;
            accessKey: string;
            secretAccessKey: string;
            /** @description This service's extension: the base URL of a self-hosted S3 service (MinIO, Ceph, R2, ...); it must be one the operator allow-listed in REELIN_S3_IMPORT_ENDPOINTS. Absent: AWS. */
            endpoint?: string;
            /** @description This service's extension: the signing region. Absent: looked up for AWS, REELIN_S3_IMPORT_REGION (default us-east-1) for an endpoint. */
            region?: string;
        };
        /**
         * @example {
         *       "timestamp": "2026-11-28T10:07:50.123Z",
         *       "requestId": "2c4e6a8b-0d1f-4c3e-a5b7-9d1f3b5d7f90",
         *       "requestPath": "/api/v1/videos/5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
         *       "statusCode": 404,
         *       "errorCode": "RESOURCE_NOT_FOUND",
         *       "errorCodeEnum": "RESOURCE_NOT_FOUND",
         *       "message": "video 5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25 was not found",
         *       "validationErrors": [],
         *       "errorDetails": {
         *         "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25"
         *       }
         *     }
         */
        Error: {
            /** Format: date-time */
            timestamp: string;
            requestId: string;
            requestPath: string;
            statusCode: number;
            errorCode: string;
            /** @description `errorCode` again when it is one of Pixop's documented codes; absent for this service's own codes. */
            errorCodeEnum?: string;
            message: string;
            validationErrors: {
                field: string;
                /** @description The offending value: a string as sent, anything else JSON-encoded (`null` when missing), secrets as `[redacted]`, cut to 200 characters followed by `…`. */
                value: string;
                message: string;
            }[];
            errorDetails: {
                [key: string]: unknown;
            } | null;
        };
        /**
         * @example {
         *       "name": "interview-4k.mp4",
         *       "size": 2147483648,
         *       "type": "video/mp4",
         *       "containerName": "MPEG-4",
         *       "lastModified": "2026-11-27T16:42:10.000Z"
         *     }
         */
        VideoFile: {
            name: string;
            size: number | null;
            type: string;
            containerName: string | null;
            lastModified: string | null;
        };
        /**
         * @example {
         *       "file": {
         *         "name": "interview-4k.mp4",
         *         "size": 2147483648,
         *         "type": "video/mp4",
         *         "containerName": "MPEG-4",
         *         "lastModified": "2026-11-27T16:42:10.000Z"
         *       },
         *       "uploadState": {
         *         "updatedAt": "2026-11-28T10:07:50.123Z",
         *         "uploadStatus": "IN_PROGRESS",
         *         "progressPercentage": 42,
         *         "bytesCopied": 901943132,
         *         "totalBytes": 2147483648,
         *         "bytesPerSecond": 187432960,
         *         "etaSeconds": 7
         *       }
         *     }
         */
        VideoUpload: {
            file: components["schemas"]["VideoFile"];
            uploadState: {
                /** Format: date-time */
                updatedAt: string;
                /** @enum {string} */
                uploadStatus: "INITIAL" | "IN_PROGRESS" | "DONE" | "FAILED";
                progressPercentage: number;
                error?: {
                    code: string;
                    message: string;
                    details: {
                        [key: string]: unknown;
                    };
                };
                /** @description This service's extension: the bytes of the file copied so far (as of `updatedAt`); the file size once DONE. */
                bytesCopied?: number;
                /** @description This service's extension: the size of the file being copied, in bytes. */
                totalBytes?: number;
                /** @description This service's extension: the speed of the copy in bytes per second, measured over about the last 10 seconds up to `updatedAt`; null unless uploadStatus is IN_PROGRESS and the copy has run for one progress interval. */
                bytesPerSecond?: number | null;
                /** @description This service's extension: the seconds the copy still needs at `bytesPerSecond`, rounded up; 0 once DONE; null when unknown (not started, failed, no measured speed yet, or stalled). */
                etaSeconds?: number | null;
            };
        };
        /**
         * @example {
         *       "containerName": "MP4",
         *       "longContainerName": "QuickTime / MOV",
         *       "codecName": "h264",
         *       "longCodecName": "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
         *       "pixelFormatName": "yuv420p",
         *       "primaryBitDepth": 8,
         *       "frameWidth": 3840,
         *       "frameHeight": 2160,
         *       "displayAspectRatio": {
         *         "ratio": 1.78,
         *         "tag": "16:9"
         *       },
         *       "scanning": {
         *         "metadata": "PROGRESSIVE",
         *         "heuristics": "PROGRESSIVE"
         *       },
         *       "averageFrameRate": {
         *         "frameRate": 29.97,
         *         "rational": "30000:1001"
         *       },
         *       "durationInMillis": 754088,
         *       "totalFrames": 22600,
         *       "size": 2147483648,
         *       "videoStreamSize": 2117918720,
         *       "colorRangeName": "tv",
         *       "colorSpaceName": "bt709",
         *       "colorTransferName": "bt709",
         *       "colorPrimariesName": "bt709",
         *       "hdrStandardName": null
         *     }
         */
        VideoMetadata: {
            containerName: string;
            longContainerName: string | null;
            codecName: string;
            longCodecName: string | null;
            pixelFormatName: string | null;
            primaryBitDepth: number | null;
            frameWidth: number;
            frameHeight: number;
            displayAspectRatio: {
                ratio: number;
                tag: string;
            };
            scanning: {
                /**
                 * @description What the file declares (its field order).
                 * @enum {string}
                 */
                metadata: "PROGRESSIVE" | "INTERLACED_TOP_FIRST" | "INTERLACED_BOTTOM_FIRST";
                /** @description What analysis of the pictures found (ffmpeg idet over segments spread over the video); full ingestion only. */
                heuristics: ("PROGRESSIVE" | "INTERLACED_TOP_FIRST" | "INTERLACED_BOTTOM_FIRST") | null;
            };
            averageFrameRate: {
                frameRate: number;
                rational: string;
            } | null;
            durationInMillis: number | null;
            totalFrames: number | null;
            size: number;
            videoStreamSize: number | null;
            colorRangeName: string | null;
            colorSpaceName: string | null;
            colorTransferName: string | null;
            colorPrimariesName: string | null;
            /** @description HDR10, HDR10+, HLG or Dolby Vision; null for SDR. */
            hdrStandardName: string | null;
        };
        /**
         * @description See docs/quality-assessment.md for how each metric is computed and what its labels mean.
         * @example {
         *       "metrics": [
         *         {
         *           "name": "noise",
         *           "sampleMean": 1.84,
         *           "subjectiveLabel": "good",
         *           "subjectiveScore": 3.6
         *         },
         *         {
         *           "name": "details",
         *           "sampleMean": 2.31,
         *           "subjectiveLabel": "excellent",
         *           "subjectiveScore": 4.2
         *         },
         *         {
         *           "name": "colors",
         *           "sampleMean": 38.5,
         *           "subjectiveLabel": "good",
         *           "subjectiveScore": 3.9
         *         },
         *         {
         *           "name": "compression",
         *           "sampleMean": 4.7,
         *           "subjectiveLabel": "excellent",
         *           "subjectiveScore": 4.4
         *         }
         *       ],
         *       "overallSubjectiveScore": 4
         *     }
         */
        QualityAssessment: {
            metrics: {
                name: string;
                sampleMean: number;
                /** @description untenable, poor, fair, good or excellent */
                subjectiveLabel: string;
                subjectiveScore: number;
            }[];
            overallSubjectiveScore: number;
        };
        /**
         * @example {
         *       "ingestionState": {
         *         "updatedAt": "2026-11-28T10:12:31.402Z",
         *         "etaSeconds": 0,
         *         "ingestionStatus": "DONE",
         *         "progressPercentage": 100,
         *         "webVideoAvailable": true,
         *         "thumbnailsAvailable": true,
         *         "fullFramesAvailable": true,
         *         "videoMetadataAvailable": true
         *       },
         *       "metadata": {
         *         "containerName": "MP4",
         *         "longContainerName": "QuickTime / MOV",
         *         "codecName": "h264",
         *         "longCodecName": "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
         *         "pixelFormatName": "yuv420p",
         *         "primaryBitDepth": 8,
         *         "frameWidth": 3840,
         *         "frameHeight": 2160,
         *         "displayAspectRatio": {
         *           "ratio": 1.78,
         *           "tag": "16:9"
         *         },
         *         "scanning": {
         *           "metadata": "PROGRESSIVE",
         *           "heuristics": "PROGRESSIVE"
         *         },
         *         "averageFrameRate": {
         *           "frameRate": 29.97,
         *           "rational": "30000:1001"
         *         },
         *         "durationInMillis": 754088,
         *         "totalFrames": 22600,
         *         "size": 2147483648,
         *         "videoStreamSize": 2117918720,
         *         "colorRangeName": "tv",
         *         "colorSpaceName": "bt709",
         *         "colorTransferName": "bt709",
         *         "colorPrimariesName": "bt709",
         *         "hdrStandardName": null
         *       },
         *       "qualityAssessment": {
         *         "metrics": [
         *           {
         *             "name": "noise",
         *             "sampleMean": 1.84,
         *             "subjectiveLabel": "good",
         *             "subjectiveScore": 3.6
         *           },
         *           {
         *             "name": "details",
         *             "sampleMean": 2.31,
         *             "subjectiveLabel": "excellent",
         *             "subjectiveScore": 4.2
         *           },
         *           {
         *             "name": "colors",
         *             "sampleMean": 38.5,
         *             "subjectiveLabel": "good",
         *             "subjectiveScore": 3.9
         *           },
         *           {
         *             "name": "compression",
         *             "sampleMean": 4.7,
         *             "subjectiveLabel": "excellent",
         *             "subjectiveScore": 4.4
         *           }
         *         ],
         *         "overallSubjectiveScore": 4
         *       }
         *     }
         */
        VideoIngestion: {
            ingestionState: {
                /** Format: date-time */
                updatedAt: string;
                etaSeconds: number | null;
                /** @enum {string} */
                ingestionStatus: "INITIAL" | "IN_PROGRESS" | "DONE" | "FAILED";
                progressPercentage: number;
                webVideoAvailable: boolean;
                thumbnailsAvailable: boolean;
                fullFramesAvailable: boolean;
                videoMetadataAvailable: boolean;
                /** @description This service's extension: why the ingestion failed (code, message, details); present only when ingestionStatus is FAILED. */
                error?: {
                    code: string;
                    message: string;
                    details: {
                        [key: string]: unknown;
                    };
                };
                /** @description This service's extension: parts of a full ingestion the installed ffmpeg cannot make, with the reason; present only when there are some. */
                unavailableFeatures?: {
                    feature: string;
                    reason: string;
                }[];
            };
            metadata: components["schemas"]["VideoMetadata"] | null;
            qualityAssessment: components["schemas"]["QualityAssessment"] | null;
        };
        /**
         * @example {
         *       "processingState": {
         *         "updatedAt": "2026-11-28T10:12:45.918Z",
         *         "etaSeconds": 0,
         *         "processingStatus": "DONE",
         *         "progressPercentage": 100
         *       },
         *       "sourceVideo": {
         *         "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
         *         "startPositionMilliseconds": 0,
         *         "endPositionMilliseconds": 10000
         *       }
         *     }
         */
        VideoProcessing: {
            processingState: {
                /** Format: date-time */
                updatedAt: string;
                etaSeconds: number | null;
                /** @enum {string} */
                processingStatus: "INITIAL" | "IN_PROGRESS" | "DONE" | "FAILED";
                progressPercentage: number;
                /** @description This service's extension: why the cut failed (code, message, details); present only when processingStatus is FAILED. */
                error?: {
                    code: string;
                    message: string;
                    details: {
                        [key: string]: unknown;
                    };
                };
            };
            sourceVideo: {
                /** Format: uuid */
                videoId: string;
                startPositionMilliseconds: number;
                endPositionMilliseconds: number;
            };
        };
        /**
         * @description The state of an import: the copy of its file (`upload`) and its ingestion.
         * @example {
         *       "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
         *       "upload": {
         *         "file": {
         *           "name": "interview-4k.mp4",
         *           "size": 2147483648,
         *           "type": "video/mp4",
         *           "containerName": "MPEG-4",
         *           "lastModified": "2026-11-27T16:42:10.000Z"
         *         },
         *         "uploadState": {
         *           "updatedAt": "2026-11-28T10:07:50.123Z",
         *           "uploadStatus": "IN_PROGRESS",
         *           "progressPercentage": 42,
         *           "bytesCopied": 901943132,
         *           "totalBytes": 2147483648,
         *           "bytesPerSecond": 187432960,
         *           "etaSeconds": 7
         *         }
         *       },
         *       "ingestion": {
         *         "ingestionState": {
         *           "updatedAt": "2026-11-28T10:07:50.123Z",
         *           "etaSeconds": null,
         *           "ingestionStatus": "INITIAL",
         *           "progressPercentage": 0,
         *           "webVideoAvailable": false,
         *           "thumbnailsAvailable": false,
         *           "fullFramesAvailable": false,
         *           "videoMetadataAvailable": false
         *         },
         *         "metadata": null,
         *         "qualityAssessment": null
         *       }
         *     }
         */
        VideoInStatus: {
            /** Format: uuid */
            videoId: string;
            upload: components["schemas"]["VideoUpload"];
            ingestion: components["schemas"]["VideoIngestion"];
        };
        /**
         * @description A video: a master imported into the service, or a clip cut from one.
         * @example {
         *       "id": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
         *       "createdAt": "2026-11-28T10:07:38.517Z",
         *       "updatedAt": "2026-11-28T10:12:31.402Z",
         *       "userId": "3f8e2c1a-5b7d-4e9f-8a6c-2d1b0e9f7a53",
         *       "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
         *       "projectId": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
         *       "name": "Interview, camera A",
         *       "description": "Raw 4K footage from the first shooting day.",
         *       "upload": {
         *         "file": {
         *           "name": "interview-4k.mp4",
         *           "size": 2147483648,
         *           "type": "video/mp4",
         *           "containerName": "MPEG-4",
         *           "lastModified": "2026-11-27T16:42:10.000Z"
         *         },
         *         "uploadState": {
         *           "updatedAt": "2026-11-28T10:07:50.123Z",
         *           "uploadStatus": "DONE",
         *           "progressPercentage": 100,
         *           "bytesCopied": 2147483648,
         *           "totalBytes": 2147483648,
         *           "bytesPerSecond": null,
         *           "etaSeconds": 0
         *         }
         *       },
         *       "ingestion": {
         *         "ingestionState": {
         *           "updatedAt": "2026-11-28T10:12:31.402Z",
         *           "etaSeconds": 0,
         *           "ingestionStatus": "DONE",
         *           "progressPercentage": 100,
         *           "webVideoAvailable": true,
         *           "thumbnailsAvailable": true,
         *           "fullFramesAvailable": true,
         *           "videoMetadataAvailable": true
         *         },
         *         "metadata": {
         *           "containerName": "MP4",
         *           "longContainerName": "QuickTime / MOV",
         *           "codecName": "h264",
         *           "longCodecName": "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
         *           "pixelFormatName": "yuv420p",
         *           "primaryBitDepth": 8,
         *           "frameWidth": 3840,
         *           "frameHeight": 2160,
         *           "displayAspectRatio": {
         *             "ratio": 1.78,
         *             "tag": "16:9"
         *           },
         *           "scanning": {
         *             "metadata": "PROGRESSIVE",
         *             "heuristics": "PROGRESSIVE"
         *           },
         *           "averageFrameRate": {
         *             "frameRate": 29.97,
         *             "rational": "30000:1001"
         *           },
         *           "durationInMillis": 754088,
         *           "totalFrames": 22600,
         *           "size": 2147483648,
         *           "videoStreamSize": 2117918720,
         *           "colorRangeName": "tv",
         *           "colorSpaceName": "bt709",
         *           "colorTransferName": "bt709",
         *           "colorPrimariesName": "bt709",
         *           "hdrStandardName": null
         *         },
         *         "qualityAssessment": {
         *           "metrics": [
         *             {
         *               "name": "noise",
         *               "sampleMean": 1.84,
         *               "subjectiveLabel": "good",
         *               "subjectiveScore": 3.6
         *             },
         *             {
         *               "name": "details",
         *               "sampleMean": 2.31,
         *               "subjectiveLabel": "excellent",
         *               "subjectiveScore": 4.2
         *             },
         *             {
         *               "name": "colors",
         *               "sampleMean": 38.5,
         *               "subjectiveLabel": "good",
         *               "subjectiveScore": 3.9
         *             },
         *             {
         *               "name": "compression",
         *               "sampleMean": 4.7,
         *               "subjectiveLabel": "excellent",
         *               "subjectiveScore": 4.4
         *             }
         *           ],
         *           "overallSubjectiveScore": 4
         *         }
         *       },
         *       "processing": null,
         *       "masterVideo": null,
         *       "flags": {
         *         "isMaster": true,
         *         "isProcessing": false,
         *         "isProcessed": false,
         *         "isIngesting": false,
         *         "isIngested": true,
         *         "isClip": false,
         *         "isSample": false
         *       },
         *       "clipId": "a2f4c6e8-0b1d-4f3a-8c5e-7d9b1a3c5e70"
         *     }
         */
        Video: {
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            /** Format: uuid */
            userId: string;
            /** Format: uuid */
            teamId: string;
            /** Format: uuid */
            projectId: string;
            name: string;
            description: string | null;
            upload: components["schemas"]["VideoUpload"] | null;
            ingestion: components["schemas"]["VideoIngestion"];
            processing: components["schemas"]["VideoProcessing"] | null;
            masterVideo: {
                /** Format: uuid */
                id: string;
                /** Format: date-time */
                createdAt: string;
                /** Format: date-time */
                updatedAt: string;
                videoFile: components["schemas"]["VideoFile"];
            } | null;
            flags: {
                isMaster: boolean;
                isProcessing: boolean;
                isProcessed: boolean;
                isIngesting: boolean;
                isIngested: boolean;
                isClip: boolean;
                isSample: boolean;
            };
            clipId: string | null;
        };
        /**
         * @description A team: its members share its projects, videos and webhooks.
         * @example {
         *       "id": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
         *       "createdAt": "2026-01-14T09:00:00.000Z",
         *       "updatedAt": "2026-06-02T13:25:11.870Z",
         *       "name": "Acme Post-Production",
         *       "apiEnabled": true,
         *       "freeClipEnabled": true
         *     }
         */
        Team: {
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            name: string;
            apiEnabled: boolean;
            /** @description This service's extension (a team setting): whether a free 10-second clip is made of every ingested master (default true). */
            freeClipEnabled: boolean;
        };
        /**
         * @description A project: a group of videos within a team.
         * @example {
         *       "id": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
         *       "createdAt": "2026-03-09T08:30:00.000Z",
         *       "updatedAt": "2026-03-09T08:30:00.000Z",
         *       "name": "Documentary 2026",
         *       "isSample": false,
         *       "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f"
         *     }
         */
        Project: {
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            name: string;
            isSample: boolean;
            /** Format: uuid */
            teamId: string;
        };
        /**
         * @description The user the API key belongs to, with their default team.
         * @example {
         *       "user": {
         *         "id": "3f8e2c1a-5b7d-4e9f-8a6c-2d1b0e9f7a53",
         *         "createdAt": "2026-01-14T09:00:00.000Z",
         *         "updatedAt": "2026-01-14T09:00:00.000Z",
         *         "email": "editor@example.com",
         *         "name": "Robin Editor",
         *         "hasConfirmedEmail": true
         *       },
         *       "defaultTeam": {
         *         "id": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
         *         "createdAt": "2026-01-14T09:00:00.000Z",
         *         "updatedAt": "2026-06-02T13:25:11.870Z",
         *         "name": "Acme Post-Production",
         *         "apiEnabled": true,
         *         "freeClipEnabled": true
         *       }
         *     }
         */
        Account: {
            user: {
                /** Format: uuid */
                id: string;
                /** Format: date-time */
                createdAt: string;
                /** Format: date-time */
                updatedAt: string;
                email: string;
                name: string;
                hasConfirmedEmail: boolean;
            };
            defaultTeam: components["schemas"]["Team"] | null;
        };
        /**
         * @description This service's extension: an artifact of a full ingestion, as a pre-signed link.
         * @example {
         *       "id": "7c3e5a1f-9b2d-4e6c-8a0f-3d5b7e9c1a42",
         *       "kind": "THUMBNAIL",
         *       "position": 0,
         *       "timestampMillis": 37700,
         *       "width": 320,
         *       "height": 180,
         *       "sizeBytes": 14382,
         *       "mimeType": "image/jpeg",
         *       "presignedUrl": "https://reelin.example.com/api/downloads/5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25/artifacts/7c3e5a1f-9b2d-4e6c-8a0f-3d5b7e9c1a42/interview-4k-thumbnail-01.jpg?expires=1795861800&signature=P17tyy9v5v7ZFfotCHd1SiAFZOGc7jwu7UuFECfOaIs",
         *       "expiresAt": "2026-11-28T10:30:00.000Z"
         *     }
         */
        VideoArtifact: {
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            kind: "THUMBNAIL" | "POSTER" | "FULL_FRAME" | "WEB_VIDEO";
            /** @description Order within its kind, from 0. */
            position: number;
            /** @description Where in the video the picture was taken. */
            timestampMillis: number | null;
            width: number;
            height: number;
            sizeBytes: number;
            mimeType: string;
            presignedUrl: string;
            /** Format: date-time */
            expiresAt: string;
        };
        /**
         * @description This service's extension: the artifacts of a video, as pre-signed links, in order.
         * @example {
         *       "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
         *       "items": [
         *         {
         *           "id": "7c3e5a1f-9b2d-4e6c-8a0f-3d5b7e9c1a42",
         *           "kind": "THUMBNAIL",
         *           "position": 0,
         *           "timestampMillis": 37700,
         *           "width": 320,
         *           "height": 180,
         *           "sizeBytes": 14382,
         *           "mimeType": "image/jpeg",
         *           "presignedUrl": "https://reelin.example.com/api/downloads/5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25/artifacts/7c3e5a1f-9b2d-4e6c-8a0f-3d5b7e9c1a42/interview-4k-thumbnail-01.jpg?expires=1795861800&signature=P17tyy9v5v7ZFfotCHd1SiAFZOGc7jwu7UuFECfOaIs",
         *           "expiresAt": "2026-11-28T10:30:00.000Z"
         *         }
         *       ]
         *     }
         */
        VideoArtifactList: {
            /** Format: uuid */
            videoId: string;
            items: components["schemas"]["VideoArtifact"][];
        };
        /**
         * @description A pre-signed link to a video's file, with what a download needs to know beforehand.
         * @example {
         *       "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
         *       "presignedUrl": "https://reelin.example.com/api/downloads/5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25/interview-4k.mp4?expires=1795861800&signature=HYj0vBEnK_iq0Bve2m0YHFdB9r3fwk7pFPu_roKxkvU",
         *       "expiresAt": "2026-11-28T10:30:00.000Z",
         *       "fileSize": 2147483648,
         *       "mimeType": "video/mp4",
         *       "fileExtension": "mp4",
         *       "suggestedFileName": "interview-4k.mp4",
         *       "crc32cChecksum": 2736188417
         *     }
         */
        VideoDownloadLink: {
            /** Format: uuid */
            videoId: string;
            presignedUrl: string;
            /** Format: date-time */
            expiresAt: string;
            fileSize: number;
            mimeType: string;
            fileExtension: string;
            suggestedFileName: string;
            crc32cChecksum: number;
        };
        /**
         * @description A subscription of a team to video events, delivered to its URL.
         * @example {
         *       "id": "e6b8d0f2-4a6c-4e8a-b1d3-5f7a9c1e3b86",
         *       "createdAt": "2026-11-20T14:02:09.331Z",
         *       "updatedAt": "2026-11-20T14:02:09.331Z",
         *       "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
         *       "name": "Ingest notifications",
         *       "description": "Tells the editing suite when a master is ready.",
         *       "url": "https://hooks.example.com/reelin",
         *       "rateLimitPerSecond": 10,
         *       "maxTotalRetryDelayMinutes": 180,
         *       "eventTypes": [
         *         "video_in.done",
         *         "video_in.failed",
         *         "video_in_ingestion.done"
         *       ],
         *       "active": true,
         *       "hasSecret": true
         *     }
         */
        Webhook: {
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            /** Format: uuid */
            teamId: string;
            name: string;
            description: string | null;
            url: string;
            rateLimitPerSecond: number;
            maxTotalRetryDelayMinutes: number;
            eventTypes: string[];
            active: boolean;
            /** @description This service's extension: whether deliveries also carry a Standard Webhooks signature (see `secret`). */
            hasSecret: boolean;
        };
        /**
         * @example {
         *       "id": "4b6d8f0a-2c4e-4a6b-8d0f-9e1c3a5b7d28",
         *       "webhookId": "e6b8d0f2-4a6c-4e8a-b1d3-5f7a9c1e3b86",
         *       "eventType": "video_in.done",
         *       "occurredAt": "2026-11-28T10:07:50.998Z",
         *       "test": false,
         *       "attemptCount": 1,
         *       "data": {
         *         "type": "VIDEO",
         *         "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25"
         *       }
         *     }
         */
        WebhookPayload: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            webhookId: string;
            eventType: string;
            /** Format: date-time */
            occurredAt: string;
            test: boolean;
            attemptCount: number;
            data: {
                /** @constant */
                type: "VIDEO";
                /** Format: uuid */
                videoId: string;
            };
        };
        /**
         * @description One delivery of an event to a webhook, with every attempt.
         * @example {
         *       "id": "1d3f5b7a-9c0e-4a2c-9e4f-6b8d0a2c4e19",
         *       "createdAt": "2026-11-28T10:07:51.004Z",
         *       "updatedAt": "2026-11-28T10:07:51.612Z",
         *       "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
         *       "payload": {
         *         "id": "4b6d8f0a-2c4e-4a6b-8d0f-9e1c3a5b7d28",
         *         "webhookId": "e6b8d0f2-4a6c-4e8a-b1d3-5f7a9c1e3b86",
         *         "eventType": "video_in.done",
         *         "occurredAt": "2026-11-28T10:07:50.998Z",
         *         "test": false,
         *         "attemptCount": 1,
         *         "data": {
         *           "type": "VIDEO",
         *           "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25"
         *         }
         *       },
         *       "nextAttemptEarliestAt": null,
         *       "successful": true,
         *       "responses": [
         *         {
         *           "requestedAt": "2026-11-28T10:07:51.020Z",
         *           "responseTimeMillis": 142,
         *           "statusCode": 200,
         *           "responseBody": "{\"received\":true}",
         *           "errorCode": null,
         *           "errorMessage": null,
         *           "responseRetryAt": null,
         *           "responseHeaders": null
         *         }
         *       ]
         *     }
         */
        WebhookEvent: {
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            /** Format: uuid */
            teamId: string;
            payload: components["schemas"]["WebhookPayload"];
            /** @description When the next attempt may start; null once the delivery succeeded or gave up. */
            nextAttemptEarliestAt: string | null;
            successful: boolean;
            responses: {
                /** Format: date-time */
                requestedAt: string;
                responseTimeMillis: number;
                statusCode: number | null;
                /** @description The first 100 characters of the response body. */
                responseBody: string | null;
                errorCode: string | null;
                errorMessage: string | null;
                /** @description The time a 429 or 503 response asked for with Retry-After. */
                responseRetryAt: string | null;
                /** @description The headers of a failed response. */
                responseHeaders: {
                    [key: string]: string;
                } | null;
            }[];
        };
        /**
         * @description A public key that verifies the ECDSA signatures of deliveries.
         * @example {
         *       "id": "8a0c2e4b-6d8f-4b1a-9c3e-5d7f9b1d3f64",
         *       "createdAt": "2026-10-01T00:00:00.000Z",
         *       "updatedAt": "2026-10-01T00:00:00.000Z",
         *       "algorithm": "EC",
         *       "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4W50IuOXfVfjFbt6IG0QOmlyK5ZMCVgnQ2Y9GTDoWDLGq6weboxcPvz8GdYpQ7smtRYifTLfw3nEzmm81YY0qA==",
         *       "expiresAt": null
         *     }
         */
        WebhookPublicKey: {
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            /** @constant */
            algorithm: "EC";
            /** @description Base64 DER SubjectPublicKeyInfo of an ECDSA P-256 key. */
            publicKey: string;
            /** @description Null for the active key; set on a key replaced by a rotation, which stays valid until then. */
            expiresAt: string | null;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: {
        /** @description Requests this API key may make per window (one minute). */
        "X-RateLimit-Limit": number;
        /** @description Requests left to this API key in the current window. */
        "X-RateLimit-Remaining": number;
        /** @description Whole seconds until the current window ends and the count starts again. */
        "X-RateLimit-Reset": number;
        /** @description Seconds to wait before the next request of this API key is accepted. */
        "Retry-After": number;
    };
    pathItems: never;
};
export type $defs = Record<string, never>;
export interface operations {
    getLiveness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The process runs. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every dependency answered in time. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ready",
                     *       "checks": {
                     *         "database": {
                     *           "status": "up"
                     *         },
                     *         "queue": {
                     *           "status": "up"
                     *         },
                     *         "storage": {
                     *           "status": "up"
                     *         }
                     *       }
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ready" | "not ready";
                        checks: {
                            [key: string]: {
                                /** @enum {string} */
                                status: "up" | "down";
                            };
                        };
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description A dependency did not answer in time. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "not ready",
                     *       "checks": {
                     *         "database": {
                     *           "status": "up"
                     *         },
                     *         "queue": {
                     *           "status": "up"
                     *         },
                     *         "storage": {
                     *           "status": "down"
                     *         }
                     *       }
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ready" | "not ready";
                        checks: {
                            [key: string]: {
                                /** @enum {string} */
                                status: "up" | "down";
                            };
                        };
                    };
                };
            };
        };
    };
    downloadVideoFile: {
        parameters: {
            query?: {
                /** @description The link's expiry, as the API answered it in the link. */
                expires?: string;
                /** @description The link's signature, as the API answered it in the link. */
                signature?: string;
            };
            header?: never;
            path: {
                /** @description The video, as in the link the API answered. */
                videoId: string;
                /** @description The file name, as in the link the API answered. */
                fileName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file. */
            200: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            /** @description The range asked for. */
            206: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    /** @description `bytes start-end/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            /** @description The link is malformed. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The link is not valid or has expired: ask the API for a new one. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The file no longer exists. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The range lies outside the file; `Content-Range: bytes *\/size` says its size. No body. */
            416: {
                headers: {
                    /** @description `bytes *\/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    getVideoFileHeaders: {
        parameters: {
            query?: {
                /** @description The link's expiry, as the API answered it in the link. */
                expires?: string;
                /** @description The link's signature, as the API answered it in the link. */
                signature?: string;
            };
            header?: never;
            path: {
                /** @description The video, as in the link the API answered. */
                videoId: string;
                /** @description The file name, as in the link the API answered. */
                fileName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file's headers. */
            200: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The headers of the range asked for. */
            206: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    /** @description `bytes start-end/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The link is malformed. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The link is not valid or has expired: ask the API for a new one. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The file no longer exists. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The range lies outside the file; `Content-Range: bytes *\/size` says its size. No body. */
            416: {
                headers: {
                    /** @description `bytes *\/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    downloadVideoArtifactFile: {
        parameters: {
            query?: {
                /** @description The link's expiry, as the API answered it in the link. */
                expires?: string;
                /** @description The link's signature, as the API answered it in the link. */
                signature?: string;
            };
            header?: never;
            path: {
                /** @description The video, as in the link the API answered. */
                videoId: string;
                /** @description The artifact, as in the link the API answered. */
                artifactId: string;
                /** @description The file name, as in the link the API answered. */
                fileName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file. */
            200: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            /** @description The range asked for. */
            206: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    /** @description `bytes start-end/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            /** @description The link is malformed. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The link is not valid or has expired: ask the API for a new one. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The file no longer exists. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The range lies outside the file; `Content-Range: bytes *\/size` says its size. No body. */
            416: {
                headers: {
                    /** @description `bytes *\/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    getVideoArtifactFileHeaders: {
        parameters: {
            query?: {
                /** @description The link's expiry, as the API answered it in the link. */
                expires?: string;
                /** @description The link's signature, as the API answered it in the link. */
                signature?: string;
            };
            header?: never;
            path: {
                /** @description The video, as in the link the API answered. */
                videoId: string;
                /** @description The artifact, as in the link the API answered. */
                artifactId: string;
                /** @description The file name, as in the link the API answered. */
                fileName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file's headers. */
            200: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The headers of the range asked for. */
            206: {
                headers: {
                    /** @description Always `bytes`. */
                    "Accept-Ranges"?: "bytes";
                    /** @description The file's entity tag, for `If-Range`. */
                    ETag?: string;
                    /** @description When the file was stored. */
                    "Last-Modified"?: string;
                    /** @description The file name to save the file under. */
                    "Content-Disposition"?: string;
                    /** @description The length of the body in bytes. */
                    "Content-Length"?: number;
                    /** @description A video file's CRC32C as an unsigned decimal integer (not sent for artifacts). */
                    "X-Checksum-CRC32C"?: string;
                    /** @description `bytes start-end/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The link is malformed. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The link is not valid or has expired: ask the API for a new one. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The file no longer exists. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The range lies outside the file; `Content-Range: bytes *\/size` says its size. No body. */
            416: {
                headers: {
                    /** @description `bytes *\/size`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    getAccount: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user the API key belongs to, with their default team. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Account"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getTeams: {
        parameters: {
            query?: {
                /** @description The page to answer, from 0 (default 0). */
                pageNumber?: number;
                /** @description Items per page (default 10). */
                pageSize?: number;
                /** @description The order of the items. */
                sortDirection?: "ASC" | "DESC";
                /** @description The field the items are ordered by. */
                sortBy?: "createdAt" | "updatedAt";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of the list, and where it lies in the whole. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pageNumber": 0,
                     *       "pageSize": 10,
                     *       "numberOfElements": 1,
                     *       "totalPages": 1,
                     *       "totalElements": 1,
                     *       "items": [
                     *         {
                     *           "id": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
                     *           "createdAt": "2026-01-14T09:00:00.000Z",
                     *           "updatedAt": "2026-06-02T13:25:11.870Z",
                     *           "name": "Acme Post-Production",
                     *           "apiEnabled": true,
                     *           "freeClipEnabled": true
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pageNumber: number;
                        pageSize: number;
                        numberOfElements: number;
                        totalPages: number;
                        totalElements: number;
                        items: components["schemas"]["Team"][];
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getTeamById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description One of the caller's teams. */
                teamId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A team: its members share its projects, videos and webhooks. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Team"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateTeamById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description One of the caller's teams. */
                teamId: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "freeClipEnabled": false
                 *     }
                 */
                "application/json": {
                    freeClipEnabled?: boolean;
                };
            };
        };
        responses: {
            /** @description A team: its members share its projects, videos and webhooks. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Team"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getProjects: {
        parameters: {
            query?: {
                /** @description The page to answer, from 0 (default 0). */
                pageNumber?: number;
                /** @description Items per page (default 10). */
                pageSize?: number;
                /** @description The order of the items. */
                sortDirection?: "ASC" | "DESC";
                /** @description The field the items are ordered by. */
                sortBy?: "createdAt" | "updatedAt";
                /** @description One of the caller's teams, whose objects are listed; absent: the caller's default team. */
                teamId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of the list, and where it lies in the whole. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pageNumber": 0,
                     *       "pageSize": 10,
                     *       "numberOfElements": 1,
                     *       "totalPages": 1,
                     *       "totalElements": 1,
                     *       "items": [
                     *         {
                     *           "id": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
                     *           "createdAt": "2026-03-09T08:30:00.000Z",
                     *           "updatedAt": "2026-03-09T08:30:00.000Z",
                     *           "name": "Documentary 2026",
                     *           "isSample": false,
                     *           "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pageNumber: number;
                        pageSize: number;
                        numberOfElements: number;
                        totalPages: number;
                        totalElements: number;
                        items: components["schemas"]["Project"][];
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createProject: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Documentary 2026"
                 *     }
                 */
                "application/json": {
                    name: string;
                };
            };
        };
        responses: {
            /** @description A project: a group of videos within a team. */
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getDefaultProject: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A project: a group of videos within a team. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getProjectById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The project. */
                projectId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A project: a group of videos within a team. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteProjectById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The project. */
                projectId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The project is deleted. */
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateProjectById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The project. */
                projectId: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "name": "Documentary 2026 (final)"
                 *     }
                 */
                "application/json": {
                    name?: string;
                };
            };
        };
        responses: {
            /** @description A project: a group of videos within a team. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createMasterVideoFromHttps: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description Also make thumbnails, a poster, full frames, a web video and a quality assessment once the copy is done (default false). */
                fullIngestion?: boolean;
                /** @description The file's CRC32C as an unsigned integer: the copy is checked against it and FAILED on a mismatch. */
                crc32c?: number;
                /** @description At most this many range requests to the source at once (default 10). */
                maxConcurrentConnections?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Interview, camera A",
                 *       "description": "Raw 4K footage from the first shooting day.",
                 *       "projectId": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
                 *       "fileName": "interview-4k.mp4",
                 *       "url": "https://media.example.com/shoots/2026-11-27/interview-4k.mp4"
                 *     }
                 */
                "application/json": {
                    name: string;
                    description?: string;
                    /** Format: uuid */
                    projectId?: string;
                    fileName?: string;
                    url: string;
                };
            };
        };
        responses: {
            /** @description The state of an import: the copy of its file (`upload`) and its ingestion. */
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoInStatus"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createMasterVideoFromS3: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description Also make thumbnails, a poster, full frames, a web video and a quality assessment once the copy is done (default false). */
                fullIngestion?: boolean;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Interview, camera A",
                 *       "description": "Raw 4K footage from the first shooting day.",
                 *       "projectId": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
                 *       "fileName": "interview-4k.mp4",
                 *       "objectKey": "shoots/2026-11-27/interview-4k.mp4",
                 *       "s3Bucket": {
                 *         "bucket": "acme-masters",
                 *         "accessKey": "AKIAIOSFODNN7EXAMPLE",
                 *         "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 *         "region": "eu-west-1"
                 *       }
                 *     }
                 */
                "application/json": {
                    name: string;
                    description?: string;
                    /** Format: uuid */
                    projectId?: string;
                    fileName?: string;
                    objectKey: string;
                    s3Bucket: components["schemas"]["S3BucketInput"];
                };
            };
        };
        responses: {
            /** @description The state of an import: the copy of its file (`upload`) and its ingestion. */
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoInStatus"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoInStatus: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The imported video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The state of an import: the copy of its file (`upload`) and its ingestion. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoInStatus"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    restartVideoIn: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description After a CRC32C mismatch: accept the copied bytes as they are (default false). */
                skipChecksumValidation?: boolean;
            };
            header?: never;
            path: {
                /** @description The imported video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The state of an import: the copy of its file (`upload`) and its ingestion. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoInStatus"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    abandonVideoIn: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The imported video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The import, its video record and its data are deleted. */
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideos: {
        parameters: {
            query?: {
                /** @description The page to answer, from 0 (default 0). */
                pageNumber?: number;
                /** @description Items per page (default 10). */
                pageSize?: number;
                /** @description The order of the items. */
                sortDirection?: "ASC" | "DESC";
                /** @description The field the items are ordered by. */
                sortBy?: "createdAt" | "updatedAt";
                /** @description One of the caller's teams, whose objects are listed; absent: the caller's default team. */
                teamId?: string;
                /** @description Only the videos of this project. */
                projectId?: string;
                /** @description Only the videos derived from this master (its clips). */
                masterVideoId?: string;
                /** @description Only the master video this video is a clip of. */
                clipId?: string;
                /** @description Clips: listed with the rest (INCLUDE), left out (EXCLUDE) or alone (ONLY). */
                clipMode?: "INCLUDE" | "EXCLUDE" | "ONLY";
                /** @description This service's extension: only the videos whose copy (`upload.uploadState.uploadStatus`) is in this state; a video without a copy (a clip) never matches. */
                uploadStatus?: "INITIAL" | "IN_PROGRESS" | "DONE" | "FAILED";
                /** @description This service's extension: only the videos whose ingestion (`ingestion.ingestionState.ingestionStatus`) is in this state; a video not yet ingested counts as INITIAL, as it is shown. */
                ingestionStatus?: "INITIAL" | "IN_PROGRESS" | "DONE" | "FAILED";
                /** @description This service's extension: only the videos whose name contains this text, ignoring case; `%`, `_` and `\` are plain characters, not wildcards. */
                nameContains?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of the list, and where it lies in the whole. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pageNumber": 0,
                     *       "pageSize": 10,
                     *       "numberOfElements": 1,
                     *       "totalPages": 1,
                     *       "totalElements": 1,
                     *       "items": [
                     *         {
                     *           "id": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
                     *           "createdAt": "2026-11-28T10:07:38.517Z",
                     *           "updatedAt": "2026-11-28T10:12:31.402Z",
                     *           "userId": "3f8e2c1a-5b7d-4e9f-8a6c-2d1b0e9f7a53",
                     *           "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
                     *           "projectId": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
                     *           "name": "Interview, camera A",
                     *           "description": "Raw 4K footage from the first shooting day.",
                     *           "upload": {
                     *             "file": {
                     *               "name": "interview-4k.mp4",
                     *               "size": 2147483648,
                     *               "type": "video/mp4",
                     *               "containerName": "MPEG-4",
                     *               "lastModified": "2026-11-27T16:42:10.000Z"
                     *             },
                     *             "uploadState": {
                     *               "updatedAt": "2026-11-28T10:07:50.123Z",
                     *               "uploadStatus": "DONE",
                     *               "progressPercentage": 100,
                     *               "bytesCopied": 2147483648,
                     *               "totalBytes": 2147483648,
                     *               "bytesPerSecond": null,
                     *               "etaSeconds": 0
                     *             }
                     *           },
                     *           "ingestion": {
                     *             "ingestionState": {
                     *               "updatedAt": "2026-11-28T10:12:31.402Z",
                     *               "etaSeconds": 0,
                     *               "ingestionStatus": "DONE",
                     *               "progressPercentage": 100,
                     *               "webVideoAvailable": true,
                     *               "thumbnailsAvailable": true,
                     *               "fullFramesAvailable": true,
                     *               "videoMetadataAvailable": true
                     *             },
                     *             "metadata": {
                     *               "containerName": "MP4",
                     *               "longContainerName": "QuickTime / MOV",
                     *               "codecName": "h264",
                     *               "longCodecName": "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
                     *               "pixelFormatName": "yuv420p",
                     *               "primaryBitDepth": 8,
                     *               "frameWidth": 3840,
                     *               "frameHeight": 2160,
                     *               "displayAspectRatio": {
                     *                 "ratio": 1.78,
                     *                 "tag": "16:9"
                     *               },
                     *               "scanning": {
                     *                 "metadata": "PROGRESSIVE",
                     *                 "heuristics": "PROGRESSIVE"
                     *               },
                     *               "averageFrameRate": {
                     *                 "frameRate": 29.97,
                     *                 "rational": "30000:1001"
                     *               },
                     *               "durationInMillis": 754088,
                     *               "totalFrames": 22600,
                     *               "size": 2147483648,
                     *               "videoStreamSize": 2117918720,
                     *               "colorRangeName": "tv",
                     *               "colorSpaceName": "bt709",
                     *               "colorTransferName": "bt709",
                     *               "colorPrimariesName": "bt709",
                     *               "hdrStandardName": null
                     *             },
                     *             "qualityAssessment": {
                     *               "metrics": [
                     *                 {
                     *                   "name": "noise",
                     *                   "sampleMean": 1.84,
                     *                   "subjectiveLabel": "good",
                     *                   "subjectiveScore": 3.6
                     *                 },
                     *                 {
                     *                   "name": "details",
                     *                   "sampleMean": 2.31,
                     *                   "subjectiveLabel": "excellent",
                     *                   "subjectiveScore": 4.2
                     *                 },
                     *                 {
                     *                   "name": "colors",
                     *                   "sampleMean": 38.5,
                     *                   "subjectiveLabel": "good",
                     *                   "subjectiveScore": 3.9
                     *                 },
                     *                 {
                     *                   "name": "compression",
                     *                   "sampleMean": 4.7,
                     *                   "subjectiveLabel": "excellent",
                     *                   "subjectiveScore": 4.4
                     *                 }
                     *               ],
                     *               "overallSubjectiveScore": 4
                     *             }
                     *           },
                     *           "processing": null,
                     *           "masterVideo": null,
                     *           "flags": {
                     *             "isMaster": true,
                     *             "isProcessing": false,
                     *             "isProcessed": false,
                     *             "isIngesting": false,
                     *             "isIngested": true,
                     *             "isClip": false,
                     *             "isSample": false
                     *           },
                     *           "clipId": "a2f4c6e8-0b1d-4f3a-8c5e-7d9b1a3c5e70"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pageNumber: number;
                        pageSize: number;
                        numberOfElements: number;
                        totalPages: number;
                        totalElements: number;
                        items: components["schemas"]["Video"][];
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A video: a master imported into the service, or a clip cut from one. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Video"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteVideoById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example [
                 *       "a2f4c6e8-0b1d-4f3a-8c5e-7d9b1a3c5e70"
                 *     ]
                 */
                "application/json": string[] | null;
            };
        };
        responses: {
            /** @description The ids of the deleted videos: this one and every video derived from it. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example [
                     *       "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
                     *       "a2f4c6e8-0b1d-4f3a-8c5e-7d9b1a3c5e70"
                     *     ]
                     */
                    "application/json": string[];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateVideoById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "name": "Interview, camera A (graded)",
                 *       "description": "Colour-graded master."
                 *     }
                 */
                "application/json": {
                    name?: string;
                    description?: string;
                };
            };
        };
        responses: {
            /** @description A video: a master imported into the service, or a clip cut from one. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Video"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getDerivedVideos: {
        parameters: {
            query?: {
                /** @description The page to answer, from 0 (default 0). */
                pageNumber?: number;
                /** @description Items per page (default 10). */
                pageSize?: number;
                /** @description The order of the items. */
                sortDirection?: "ASC" | "DESC";
                /** @description The field the items are ordered by. */
                sortBy?: "createdAt" | "updatedAt";
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description One of the caller's teams, whose objects are listed; absent: the caller's default team. */
                teamId?: string;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of the list, and where it lies in the whole. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pageNumber": 0,
                     *       "pageSize": 10,
                     *       "numberOfElements": 1,
                     *       "totalPages": 1,
                     *       "totalElements": 1,
                     *       "items": [
                     *         {
                     *           "id": "a2f4c6e8-0b1d-4f3a-8c5e-7d9b1a3c5e70",
                     *           "createdAt": "2026-11-28T10:12:31.950Z",
                     *           "updatedAt": "2026-11-28T10:12:52.204Z",
                     *           "userId": "3f8e2c1a-5b7d-4e9f-8a6c-2d1b0e9f7a53",
                     *           "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
                     *           "projectId": "c47a1e2b-8d3f-4a6c-b5e9-7f1d2c3b4a60",
                     *           "name": "Interview, camera A (clip)",
                     *           "description": null,
                     *           "upload": null,
                     *           "ingestion": {
                     *             "ingestionState": {
                     *               "updatedAt": "2026-11-28T10:12:52.204Z",
                     *               "etaSeconds": 0,
                     *               "ingestionStatus": "DONE",
                     *               "progressPercentage": 100,
                     *               "webVideoAvailable": false,
                     *               "thumbnailsAvailable": false,
                     *               "fullFramesAvailable": false,
                     *               "videoMetadataAvailable": true
                     *             },
                     *             "metadata": {
                     *               "containerName": "MP4",
                     *               "longContainerName": "QuickTime / MOV",
                     *               "codecName": "h264",
                     *               "longCodecName": "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
                     *               "pixelFormatName": "yuv420p",
                     *               "primaryBitDepth": 8,
                     *               "frameWidth": 3840,
                     *               "frameHeight": 2160,
                     *               "displayAspectRatio": {
                     *                 "ratio": 1.78,
                     *                 "tag": "16:9"
                     *               },
                     *               "scanning": {
                     *                 "metadata": "PROGRESSIVE",
                     *                 "heuristics": "PROGRESSIVE"
                     *               },
                     *               "averageFrameRate": {
                     *                 "frameRate": 29.97,
                     *                 "rational": "30000:1001"
                     *               },
                     *               "durationInMillis": 10010,
                     *               "totalFrames": 300,
                     *               "size": 28734012,
                     *               "videoStreamSize": 2117918720,
                     *               "colorRangeName": "tv",
                     *               "colorSpaceName": "bt709",
                     *               "colorTransferName": "bt709",
                     *               "colorPrimariesName": "bt709",
                     *               "hdrStandardName": null
                     *             },
                     *             "qualityAssessment": null
                     *           },
                     *           "processing": {
                     *             "processingState": {
                     *               "updatedAt": "2026-11-28T10:12:45.918Z",
                     *               "etaSeconds": 0,
                     *               "processingStatus": "DONE",
                     *               "progressPercentage": 100
                     *             },
                     *             "sourceVideo": {
                     *               "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
                     *               "startPositionMilliseconds": 0,
                     *               "endPositionMilliseconds": 10000
                     *             }
                     *           },
                     *           "masterVideo": {
                     *             "id": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25",
                     *             "createdAt": "2026-11-28T10:07:38.517Z",
                     *             "updatedAt": "2026-11-28T10:12:31.402Z",
                     *             "videoFile": {
                     *               "name": "interview-4k.mp4",
                     *               "size": 2147483648,
                     *               "type": "video/mp4",
                     *               "containerName": "MPEG-4",
                     *               "lastModified": "2026-11-27T16:42:10.000Z"
                     *             }
                     *           },
                     *           "flags": {
                     *             "isMaster": false,
                     *             "isProcessing": false,
                     *             "isProcessed": true,
                     *             "isIngesting": false,
                     *             "isIngested": true,
                     *             "isClip": true,
                     *             "isSample": false
                     *           },
                     *           "clipId": null
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pageNumber: number;
                        pageSize: number;
                        numberOfElements: number;
                        totalPages: number;
                        totalElements: number;
                        items: components["schemas"]["Video"][];
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    generateVideoDownloadUrl: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description Minutes until the link expires (default 15). */
                durationMinutes?: number;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A pre-signed link to a video's file, with what a download needs to know beforehand. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoDownloadLink"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoThumbnails: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description Minutes until the links expire (default 15). */
                durationMinutes?: number;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description This service's extension: the artifacts of a video, as pre-signed links, in order. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoArtifactList"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoFullFrames: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description Minutes until the links expire (default 15). */
                durationMinutes?: number;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description This service's extension: the artifacts of a video, as pre-signed links, in order. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoArtifactList"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    generateWebVideoDownloadUrl: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description Minutes until the links expire (default 15). */
                durationMinutes?: number;
            };
            header?: never;
            path: {
                /** @description The video. */
                videoId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description This service's extension: an artifact of a full ingestion, as a pre-signed link. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VideoArtifact"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoWebhooks: {
        parameters: {
            query?: {
                /** @description The page to answer, from 0 (default 0). */
                pageNumber?: number;
                /** @description Items per page (default 10). */
                pageSize?: number;
                /** @description The order of the items. */
                sortDirection?: "ASC" | "DESC";
                /** @description The field the items are ordered by. */
                sortBy?: "createdAt" | "updatedAt";
                /** @description One of the caller's teams, whose objects are listed; absent: the caller's default team. */
                teamId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of the list, and where it lies in the whole. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pageNumber": 0,
                     *       "pageSize": 10,
                     *       "numberOfElements": 1,
                     *       "totalPages": 1,
                     *       "totalElements": 1,
                     *       "items": [
                     *         {
                     *           "id": "e6b8d0f2-4a6c-4e8a-b1d3-5f7a9c1e3b86",
                     *           "createdAt": "2026-11-20T14:02:09.331Z",
                     *           "updatedAt": "2026-11-20T14:02:09.331Z",
                     *           "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
                     *           "name": "Ingest notifications",
                     *           "description": "Tells the editing suite when a master is ready.",
                     *           "url": "https://hooks.example.com/reelin",
                     *           "rateLimitPerSecond": 10,
                     *           "maxTotalRetryDelayMinutes": 180,
                     *           "eventTypes": [
                     *             "video_in.done",
                     *             "video_in.failed",
                     *             "video_in_ingestion.done"
                     *           ],
                     *           "active": true,
                     *           "hasSecret": true
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pageNumber: number;
                        pageSize: number;
                        numberOfElements: number;
                        totalPages: number;
                        totalElements: number;
                        items: components["schemas"]["Webhook"][];
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createVideoWebhook: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Ingest notifications",
                 *       "description": "Tells the editing suite when a master is ready.",
                 *       "url": "https://hooks.example.com/reelin",
                 *       "rateLimitPerSecond": 10,
                 *       "maxTotalRetryDelayMinutes": 180,
                 *       "eventTypes": [
                 *         "video_in.done",
                 *         "video_in.failed",
                 *         "video_in_ingestion.done"
                 *       ],
                 *       "active": true,
                 *       "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
                 *     }
                 */
                "application/json": {
                    name: string;
                    description?: string;
                    /** @description HTTPS URL the events are POSTed to; the same rules as the import URL (https, allowed port, every address of the host public), checked now and again before every delivery. */
                    url: string;
                    /**
                     * @description At most this many requests per second to the URL, across all of the service's worker processes together.
                     * @default 10
                     */
                    rateLimitPerSecond?: number;
                    /**
                     * @description Failed deliveries are retried with exponential backoff and jitter until this many minutes after the event was dispatched; 0: no retry.
                     * @default 180
                     */
                    maxTotalRetryDelayMinutes?: number;
                    eventTypes: ("video_in.started" | "video_in.done" | "video_in.failed" | "video_in_ingestion.started" | "video_in_ingestion.done" | "video_in_ingestion.failed" | "clip_processing.started" | "clip_processing.done" | "clip_processing.failed" | "clip_ingestion.started" | "clip_ingestion.done" | "clip_ingestion.failed" | "video_processing.started" | "video_processing.done" | "video_processing.failed" | "video_processing_ingestion.started" | "video_processing_ingestion.done" | "video_processing_ingestion.failed" | "video_out.started" | "video_out.done" | "video_out.failed" | "video.deleted")[];
                    /** @default true */
                    active?: boolean;
                    /** @description This service's extension: a Standard Webhooks secret (`whsec_` followed by the base64 of 24 to 64 random bytes). When set, every delivery also carries `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, so receivers can verify with the Standard Webhooks libraries. Write-only: responses show only `hasSecret`. */
                    secret?: string;
                };
            };
        };
        responses: {
            /** @description A subscription of a team to video events, delivered to its URL. */
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getWebhookPublicKeys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The active key and, during a rotation, the previous one. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example [
                     *       {
                     *         "id": "8a0c2e4b-6d8f-4b1a-9c3e-5d7f9b1d3f64",
                     *         "createdAt": "2026-10-01T00:00:00.000Z",
                     *         "updatedAt": "2026-10-01T00:00:00.000Z",
                     *         "algorithm": "EC",
                     *         "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4W50IuOXfVfjFbt6IG0QOmlyK5ZMCVgnQ2Y9GTDoWDLGq6weboxcPvz8GdYpQ7smtRYifTLfw3nEzmm81YY0qA==",
                     *         "expiresAt": null
                     *       }
                     *     ]
                     */
                    "application/json": components["schemas"]["WebhookPublicKey"][];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getWebhookPublicKeyById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The key, as a delivery names it in X-Pixop-Public-Key-Id. */
                publicKeyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A public key that verifies the ECDSA signatures of deliveries. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookPublicKey"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoWebhookEvents: {
        parameters: {
            query?: {
                /** @description The page to answer, from 0 (default 0). */
                pageNumber?: number;
                /** @description Items per page (default 10). */
                pageSize?: number;
                /** @description The order of the items. */
                sortDirection?: "ASC" | "DESC";
                /** @description The field the items are ordered by. */
                sortBy?: "createdAt" | "updatedAt";
                /** @description One of the caller's teams, whose objects are listed; absent: the caller's default team. */
                teamId?: string;
                /** @description This service's extension: only the deliveries to this webhook. */
                webhookId?: string;
                /** @description Successful deliveries: listed with the rest (INCLUDE), left out (EXCLUDE) or alone (ONLY). */
                successfulMode?: "INCLUDE" | "EXCLUDE" | "ONLY";
                /** @description Test events: listed with the rest (INCLUDE), left out (EXCLUDE) or alone (ONLY). */
                testMode?: "INCLUDE" | "EXCLUDE" | "ONLY";
                /** @description Only events that occurred at or after this instant. */
                occurredAtFrom?: string;
                /** @description Only events that occurred before this instant. */
                occurredAtUntil?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of the list, and where it lies in the whole. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pageNumber": 0,
                     *       "pageSize": 10,
                     *       "numberOfElements": 1,
                     *       "totalPages": 1,
                     *       "totalElements": 1,
                     *       "items": [
                     *         {
                     *           "id": "1d3f5b7a-9c0e-4a2c-9e4f-6b8d0a2c4e19",
                     *           "createdAt": "2026-11-28T10:07:51.004Z",
                     *           "updatedAt": "2026-11-28T10:07:51.612Z",
                     *           "teamId": "9b2d4f6e-1a3c-4e5b-9d7f-0c2e4a6b8d1f",
                     *           "payload": {
                     *             "id": "4b6d8f0a-2c4e-4a6b-8d0f-9e1c3a5b7d28",
                     *             "webhookId": "e6b8d0f2-4a6c-4e8a-b1d3-5f7a9c1e3b86",
                     *             "eventType": "video_in.done",
                     *             "occurredAt": "2026-11-28T10:07:50.998Z",
                     *             "test": false,
                     *             "attemptCount": 1,
                     *             "data": {
                     *               "type": "VIDEO",
                     *               "videoId": "5e1c9a7b-3d2f-4b8e-a6c4-1f0d9e8c7b25"
                     *             }
                     *           },
                     *           "nextAttemptEarliestAt": null,
                     *           "successful": true,
                     *           "responses": [
                     *             {
                     *               "requestedAt": "2026-11-28T10:07:51.020Z",
                     *               "responseTimeMillis": 142,
                     *               "statusCode": 200,
                     *               "responseBody": "{\"received\":true}",
                     *               "errorCode": null,
                     *               "errorMessage": null,
                     *               "responseRetryAt": null,
                     *               "responseHeaders": null
                     *             }
                     *           ]
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pageNumber: number;
                        pageSize: number;
                        numberOfElements: number;
                        totalPages: number;
                        totalElements: number;
                        items: components["schemas"]["WebhookEvent"][];
                    };
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoWebhookEventById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The delivery. */
                webhookEventId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One delivery of an event to a webhook, with every attempt. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookEvent"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVideoWebhookById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The webhook. */
                webhookId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A subscription of a team to video events, delivered to its URL. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteVideoWebhookById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The webhook. */
                webhookId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The webhook and its delivery log are deleted. */
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateVideoWebhookById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The webhook. */
                webhookId: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "url": "https://hooks.example.com/reelin/v2",
                 *       "eventTypes": [
                 *         "video_in.done",
                 *         "video.deleted"
                 *       ]
                 *     }
                 */
                "application/json": {
                    name?: string;
                    description?: string;
                    /** @description HTTPS URL the events are POSTed to; the same rules as the import URL (https, allowed port, every address of the host public), checked now and again before every delivery. */
                    url?: string;
                    /** @description At most this many requests per second to the URL, across all of the service's worker processes together. */
                    rateLimitPerSecond?: number;
                    /** @description Failed deliveries are retried with exponential backoff and jitter until this many minutes after the event was dispatched; 0: no retry. */
                    maxTotalRetryDelayMinutes?: number;
                    eventTypes?: ("video_in.started" | "video_in.done" | "video_in.failed" | "video_in_ingestion.started" | "video_in_ingestion.done" | "video_in_ingestion.failed" | "clip_processing.started" | "clip_processing.done" | "clip_processing.failed" | "clip_ingestion.started" | "clip_ingestion.done" | "clip_ingestion.failed" | "video_processing.started" | "video_processing.done" | "video_processing.failed" | "video_processing_ingestion.started" | "video_processing_ingestion.done" | "video_processing_ingestion.failed" | "video_out.started" | "video_out.done" | "video_out.failed" | "video.deleted")[];
                    secret?: string | null;
                };
            };
        };
        responses: {
            /** @description A subscription of a team to video events, delivered to its URL. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    activateVideoWebhookById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The webhook. */
                webhookId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A subscription of a team to video events, delivered to its URL. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deactivateVideoWebhookById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
            };
            header?: never;
            path: {
                /** @description The webhook. */
                webhookId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A subscription of a team to video events, delivered to its URL. */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    testVideoWebhookById: {
        parameters: {
            query?: {
                /** @description One of the caller's teams. Creating an object (and the default project): the team it belongs to, absent: the caller's default team. An operation on one object by id: only that team is searched, absent: every team of the caller. */
                selectTeamId?: string;
                /** @description The video the test event names (a video of the team); absent: the nil UUID. */
                videoId?: string;
                /** @description The event type; absent: the webhook's first event type. */
                eventType?: "video_in.started" | "video_in.done" | "video_in.failed" | "video_in_ingestion.started" | "video_in_ingestion.done" | "video_in_ingestion.failed" | "clip_processing.started" | "clip_processing.done" | "clip_processing.failed" | "clip_ingestion.started" | "clip_ingestion.done" | "clip_ingestion.failed" | "video_processing.started" | "video_processing.done" | "video_processing.failed" | "video_processing_ingestion.started" | "video_processing_ingestion.done" | "video_processing_ingestion.failed" | "video_out.started" | "video_out.done" | "video_out.failed" | "video.deleted";
            };
            header?: never;
            path: {
                /** @description The webhook. */
                webhookId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One delivery of an event to a webhook, with every attempt. */
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookEvent"];
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The object is not in a state that allows this: `errorCode` says why. */
            409: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamEvents: {
        parameters: {
            query?: {
                /** @description One of the caller's teams, whose objects are listed; absent: the caller's default team. */
                teamId?: string;
            };
            header?: {
                /** @description The `id` of the last event received: the stream first sends the latest state of everything changed since (or `reset` when that cursor is no longer kept). Browsers send it themselves when an EventSource reconnects. */
                "Last-Event-ID"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stream, open until the client or the server ends it. Events: `ready` `{teamId}`, `video` (a Video), `video.deleted` `{videoId}`, `webhook.delivery` `{webhookId, webhookEventId}`, `reset` `{reason}`; each with an `id` cursor and one line of JSON `data`. */
            200: {
                headers: {
                    /** @description Always `no-cache`. */
                    "Cache-Control"?: "no-cache";
                    /** @description Always `no`: proxies (nginx) must pass events on as they come. */
                    "X-Accel-Buffering"?: "no";
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example retry: 2000
                     *
                     *     id: 41
                     *     event: ready
                     *     data: {"teamId":"6c1f0c9e-8d7e-4a4b-9a57-2b1f5d1f4e10"}
                     *
                     *     id: 42
                     *     event: video
                     *     data: {"id":"0b6f...","name":"Interview","upload":{"uploadState":{"uploadStatus":"IN_PROGRESS","bytesCopied":1048576,...}},...}
                     *
                     *     : heartbeat
                     *
                     *     id: 43
                     *     event: video.deleted
                     *     data: {"videoId":"0b6f..."}
                     */
                    "text/event-stream": string;
                };
            };
            /** @description The request is not valid: `errorCode` says why, `validationErrors` which fields. */
            400: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No API key, or one that is not valid or not active. */
            401: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The team (the one selected, or the one the object is in) has no API access. */
            403: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such object, or not in a team of the caller's; or a team the caller is not a member of. */
            404: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not JSON. */
            415: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Past the rate limit of the API key: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "Retry-After": components["headers"]["Retry-After"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected failure: quote the request id when reporting it. */
            500: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
