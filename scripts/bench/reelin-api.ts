/**
 * The few calls of the service's REST API the benchmark makes, with their answers checked
 * against the fields it relies on, so a changed contract fails with a clear message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { z } from 'zod';

/** As a user following a copy would: the service updates progress at least every 2 s. */
const POLL_INTERVAL_MS = 1_000;

const importStatusSchema = z.object({
  videoId: z.string(),
  upload: z.object({
    uploadState: z.object({
      updatedAt: z.string(),
      uploadStatus: z.enum(['INITIAL', 'IN_PROGRESS', 'DONE', 'FAILED']),
      progressPercentage: z.number(),
      error: z.object({ code: z.string(), message: z.string() }).optional(),
    }),
  }),
});

const videoSchema = z.object({ teamId: z.string() });
const ingestionSchema = z.object({
  ingestion: z.object({ ingestionState: z.object({ ingestionStatus: z.string() }) }),
});
const downloadLinkSchema = z.object({ fileSize: z.number(), crc32cChecksum: z.number() });

type ImportStatus = z.infer<typeof importStatusSchema>;

export class ReelinApi {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  /** Starts an import of `url`; resolves with the new video's id once the service accepted it (201). */
  async startHttpsImport(url: string, connections: number): Promise<string> {
    const status = await this.call(
      'POST',
      `/api/v1/videos/in/https?maxConcurrentConnections=${connections}`,
      importStatusSchema,
      { name: 'bench', url },
    );
    return status.videoId;
  }

  /**
   * Polls the import every second until it is DONE and resolves with the moment it became DONE
   * (its `updatedAt`, epoch ms: the service runs on this machine's clock, so the figure does not
   * depend on how often this polls); throws with the service's error when it FAILED, or when it
   * is not done by `deadline` (epoch ms).
   */
  async waitUntilDone(videoId: string, deadline: number): Promise<number> {
    for (;;) {
      const state = (await this.importStatus(videoId)).upload.uploadState;
      if (state.uploadStatus === 'DONE') return Date.parse(state.updatedAt);
      if (state.uploadStatus === 'FAILED') {
        throw new Error(
          `the import FAILED: ${state.error?.code ?? 'no code'}: ${state.error?.message ?? 'no message'}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `the import is still ${state.uploadStatus} at ${state.progressPercentage}% after the time allowed`,
        );
      await sleep(POLL_INTERVAL_MS);
    }
  }

  importStatus(videoId: string): Promise<ImportStatus> {
    return this.call('GET', `/api/v1/videos/${videoId}/in/status`, importStatusSchema);
  }

  /** Polls the video every 100 ms until its ingestion has ended (DONE or FAILED, either will do). */
  async waitUntilIngestionEnded(videoId: string, deadline: number): Promise<void> {
    for (;;) {
      const status = (await this.call('GET', `/api/v1/videos/${videoId}`, ingestionSchema)).ingestion.ingestionState
        .ingestionStatus;
      if (status === 'DONE' || status === 'FAILED') return;
      if (Date.now() > deadline) throw new Error(`the ingestion is still ${status} after the time allowed`);
      await sleep(100);
    }
  }

  async teamIdOf(videoId: string): Promise<string> {
    return (await this.call('GET', `/api/v1/videos/${videoId}`, videoSchema)).teamId;
  }

  /** The size and CRC32C the service reports for the stored file (with a download link it does not use). */
  downloadInfo(videoId: string): Promise<z.infer<typeof downloadLinkSchema>> {
    return this.call('POST', `/api/v1/videos/${videoId}/out/https`, downloadLinkSchema);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { 'x-api-key': this.apiKey };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await request(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`${method} ${path} answered ${response.statusCode}: ${text.slice(0, 1000)}`);
    }
    const parsed = schema.safeParse(JSON.parse(text));
    if (!parsed.success)
      throw new Error(`${method} ${path} answered an unexpected body: ${parsed.error.message}\n${text.slice(0, 1000)}`);
    return parsed.data;
  }
}
