/**
 * Files that refer to other resources, imported through the real service, on the filesystem store
 * and on the S3 test server: HLS (media, master with variants, audio group, live), DASH, ffconcat,
 * a still image named as an image-sequence pattern, and a MOV with an external data reference
 * (tests/support/reference-media.ts). Each names a local HTTP listener, standing for a host inside
 * the network (another port than the origin's, which the copy may reach), and a canary FIFO. Each
 * ingestion ends FAILED with UNSUPPORTED_MEDIA_FORMAT naming the format within seconds, the copied
 * file stays, no connection reaches the listener, the canary is never read, and the one media
 * process the service ran for it is the probe of its stored file, with both whitelists.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMAT_WHITELIST } from '../../src/media/media-input.js';
import { RecordingRunner } from '../support/fake-media-tool.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import {
  createCanary,
  referenceFiles,
  startConnectionCounter,
  type Canary,
  type ConnectionCounter,
  type ReferenceFile,
  type ReferenceKind,
} from '../support/reference-media.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startTestService, type TestService } from '../support/test-service.js';

const ORIGIN_HOST = 'origin.reelin.test';
const BUCKET = 'reelin-containment';
const kinds: ReferenceKind[] = [
  'hls-media',
  'hls-master',
  'hls-audio-group',
  'hls-live',
  'dash',
  'ffconcat',
  'image-sequence',
  'mov-dref',
];
const ingestionEnded = (video: any) => ['DONE', 'FAILED'].includes(video.ingestion.ingestionState.ingestionStatus);

describe.each(backends.flatMap((backend) => (['fs', 's3'] as const).map((store) => ({ backend, store }))))(
  'reference files through the service ($backend, $store store)',
  ({ backend, store }) => {
    let pki: TestPki;
    let origin: OriginServer;
    let s3: S3TestServer | null = null;
    let service: TestService;
    let recorder: RecordingRunner;
    let listener: ConnectionCounter;
    let canary: Canary;
    let scratch: string;
    let files: ReferenceFile[];
    let trusting: Agent;
    const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

    beforeAll(async () => {
      pki = await createTestPki();
      origin = await startOriginServer({ pki });
      listener = await startConnectionCounter();
      scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-containment-e2e-'));
      canary = await createCanary(scratch);
      files = await referenceFiles({ listener, canary });
      recorder = await RecordingRunner.create();
      let storeEnv: Record<string, string> = {};
      if (store === 's3') {
        s3 = await startS3TestServer({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem } });
        await s3.createBucket(BUCKET);
        process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
        storeEnv = {
          REELIN_STORAGE: 's3',
          REELIN_S3_BUCKET: BUCKET,
          REELIN_S3_ENDPOINT: s3.endpoint,
          REELIN_S3_FORCE_PATH_STYLE: 'true',
          REELIN_IDLE_TIMEOUT_MS: '20000',
        };
      }
      service = await startTestService({
        backend,
        caCertificates: [pki.caCertPem],
        resolver: new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']),
        // The copy may reach the origin's port on loopback; the listener's port is not allowed.
        env: { REELIN_ALLOWED_PORTS: String(origin.port), ...storeEnv },
        mediaRunner: recorder,
      });
      expect(listener.port).not.toBe(origin.port);
      trusting = new Agent({ connect: { ca: pki.caCertPem } });
    }, 60_000);

    afterAll(async () => {
      await service?.stop();
      recorder?.killAll();
      await trusting?.close();
      await canary?.close();
      await listener?.close();
      await s3?.close();
      await origin?.close();
      await pki?.cleanup();
      if (scratch) await fs.rm(scratch, { recursive: true, force: true });
      process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
      process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
      if (savedEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (savedEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    });

    it.each(kinds)(
      'ends the ingestion of a %s file FAILED with UNSUPPORTED_MEDIA_FORMAT within seconds, opening nothing it names',
      async (kind) => {
        const file = files.find((candidate) => candidate.kind === kind);
        if (file === undefined) throw new Error(`no ${kind} file`);
        const urlPath = `/refs/${backend}-${store}/${encodeURIComponent(file.fileName)}`;
        origin.setFile(urlPath, { body: file.body });
        const startedMs = performance.now();
        const created = await service.api('POST', '/api/v1/videos/in/https?fullIngestion=true', {
          body: { name: kind, url: origin.url(urlPath, ORIGIN_HOST) },
        });
        expect(created.status, created.text).toBe(201);
        const videoId = created.body.videoId as string;

        const video = await service.waitForVideo(videoId, ingestionEnded, 15_000);
        console.log(
          `[${backend}, ${store}] ${kind}: FAILED ${Math.round(performance.now() - startedMs)} ms after the import was created`,
        );
        const state = video.ingestion.ingestionState;
        expect(state).toMatchObject({
          ingestionStatus: 'FAILED',
          videoMetadataAvailable: false,
          error: { code: 'UNSUPPORTED_MEDIA_FORMAT', details: { format: file.format } },
        });
        expect(state.error.message).toMatch(
          kind === 'mov-dref'
            ? /^the file is a QuickTime reference movie: /
            : new RegExp(`^the file is .*\\(format ${file.format}\\), which Reelin does not ingest: `),
        );
        expect(video.upload.uploadState.uploadStatus).toBe('DONE');
        expect(video.name).toBe(kind);

        // What the user sees names no internal path, storage URL or signature.
        const shown = JSON.stringify(video);
        for (const secret of [service.dataDir, 'X-Amz-', ...(s3 === null ? [] : [s3.endpoint])])
          expect(shown).not.toContain(secret);

        // Nothing it names was opened.
        expect(listener.connections()).toBe(0);
        expect(canary.wasRead()).toBe(false);

        // The one media process run for it: the probe, of the stored file (never of the user's file
        // name), with the format and protocol whitelists and drefs off.
        const commands = recorder.commandsAbout(videoId);
        expect(commands.map((command) => path.basename(command.binary))).toEqual(['ffprobe']);
        const args = commands[0]?.args ?? [];
        const input = args[args.indexOf('-i') + 1] ?? '';
        expect(
          store === 'fs'
            ? input.endsWith(`/videos/${videoId}/source`)
            : input.includes(`/videos/${videoId}/source?X-Amz-`),
        ).toBe(true);
        expect(args.join(' ')).not.toContain(file.fileName);
        expect(args.slice(args.indexOf('-format_whitelist'), args.indexOf('-format_whitelist') + 2)).toEqual([
          '-format_whitelist',
          FORMAT_WHITELIST,
        ]);
        expect(args[args.indexOf('-protocol_whitelist') + 1]).toBe(store === 'fs' ? 'file' : 'https,tls,tcp');
        expect(args[args.indexOf('-enable_drefs') + 1]).toBe('0');

        // The copied file stays, as for every failed ingestion, and no clip is made of it.
        const link = await service.api('POST', `/api/v1/videos/${videoId}/out/https`, {
          headers: { 'content-type': 'application/json', 'content-length': '0' },
        });
        expect(link.status, link.text).toBe(200);
        // Links are relative on the filesystem store (no REELIN_PUBLIC_URL here), S3 pre-signed URLs on S3.
        const copied = await request(new URL(link.body.presignedUrl, service.url), { dispatcher: trusting });
        expect(copied.statusCode).toBe(200);
        expect(Buffer.from(await copied.body.arrayBuffer()).equals(file.body)).toBe(true);
        expect((await service.api('GET', `/api/v1/videos/${videoId}/derived`)).body.totalElements).toBe(0);
      },
      30_000,
    );
  },
);
