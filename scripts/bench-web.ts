/**
 * The web application's budgets (`npm run bench:web`):
 * - JavaScript shipped to the first page, gzipped (level 9, as a server or CDN would), from the
 *   built dist/web/index.html's scripts and module preloads; target under 250 kB.
 * - First render of the video list with 1,000 videos in the team: Chromium opens /videos signed in,
 *   and the time from the navigation's start to the first page of rows in the DOM is read from the
 *   page's own clock (performance.now()); target under 1 s. Run 5 times; the worst counts.
 *
 * The service runs in this process on a fresh PGlite database (role `api`: no worker), seeded with
 * 1,000 videos whose imports are DONE. Figures are printed; a missed target prints MISSED.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { insertImport, markImportDone } from '../src/db/queries/imports.queries.js';
import { insertProject } from '../src/db/queries/projects.queries.js';
import { findActiveApiKeyOwner, findDefaultTeam } from '../src/db/queries/tenancy.queries.js';
import { insertVideo } from '../src/db/queries/videos.queries.js';
import { hashApiKey } from '../src/services/tenancy.service.js';
import type { RunningApp } from '../src/app.js';
import { createTestDatabase } from '../tests/support/test-database.js';
import { startServiceApp, TEST_API_KEY } from '../tests/support/test-service.js';
import { ensureWebAppBuilt, launchChromium } from '../tests/support/web-browser.js';

const VIDEOS = 1_000;
const RUNS = 5;
const JS_BUDGET_BYTES = 250_000;
const RENDER_BUDGET_MS = 1_000;
const webDir = fileURLToPath(new URL('../dist/web', import.meta.url));

/** The scripts the first page loads: its module entry and the chunks it preloads. */
async function firstPageScripts(): Promise<string[]> {
  const html = await readFile(path.join(webDir, 'index.html'), 'utf8');
  const sources = [
    ...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ];
  return sources.map((match) => match[1] ?? '').filter((source) => source.endsWith('.js'));
}

async function gzippedBytes(files: string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += gzipSync(await readFile(path.join(webDir, file)), { level: 9 }).length;
  return total;
}

async function seedVideos(app: RunningApp): Promise<void> {
  const db = app.connection.db;
  const owner = await findActiveApiKeyOwner(db, hashApiKey(TEST_API_KEY));
  const team = owner === null ? null : await findDefaultTeam(db, owner.userId);
  if (owner === null || team === null) throw new Error('the database has no admin key or default team');
  const projectId = (await insertProject(db, team.id, 'Bench')).id;
  for (let index = 0; index < VIDEOS; index += 1) {
    await db.transaction(async (tx) => {
      const size = 50_000_000 + index;
      const video = await insertVideo(tx, {
        teamId: team.id,
        userId: owner.userId,
        projectId,
        name: `Bench video ${String(index).padStart(4, '0')}`,
        fileName: `bench-${index}.mp4`,
        mimeType: 'video/mp4',
        fileSizeBytes: size,
      });
      await insertImport(tx, {
        videoId: video.id,
        sourceUrl: `https://origin.example/bench-${index}.mp4`,
        fetchUrl: `https://origin.example/bench-${index}.mp4`,
        pinnedAddresses: ['203.0.113.7'],
        totalBytes: size,
        partSizeBytes: size,
        maxConnections: 4,
        fullIngestion: false,
        status: 'IN_PROGRESS',
        startedAt: new Date(),
      });
      await markImportDone(tx, video.id, {
        crc32c: 1,
        storageKey: `videos/${video.id}/bench.mp4`,
        totalBytes: size,
        now: new Date(),
      });
    });
  }
}

function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}

async function main(): Promise<void> {
  await ensureWebAppBuilt();
  const scripts = await firstPageScripts();
  const jsBytes = await gzippedBytes(scripts);
  console.log(
    `first page JavaScript: ${scripts.length} file(s), ${(jsBytes / 1000).toFixed(1)} kB gzipped (target < ${JS_BUDGET_BYTES / 1000} kB): ${verdict(jsBytes < JS_BUDGET_BYTES)}`,
  );

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'reelin-bench-web-'));
  const database = await createTestDatabase('pglite', path.join(dataDir, 'db'));
  const app = await startServiceApp({ dataDir, database: database.config, role: 'api' });
  const browser = await launchChromium();
  try {
    const seedStarted = performance.now();
    await seedVideos(app);
    console.log(`seeded ${VIDEOS} videos in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    const times: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      // A fresh context each run: nothing cached, as a first visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addInitScript((key) => sessionStorage.setItem('reelin.apiKey', key), TEST_API_KEY);
      const page = await context.newPage();
      page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') console.log(`page console: ${message.text()}`);
      });
      await page.goto(`${app.url}/videos`, { waitUntil: 'commit' });
      await page.locator('[data-testid="video-row"]').nth(19).waitFor({ timeout: 30_000 });
      const total = await page.getByTestId('video-count').textContent();
      if (total !== `${VIDEOS} videos`) throw new Error(`the list shows "${total}", not ${VIDEOS} videos`);
      times.push(await page.evaluate(() => performance.now()));
      if (run === RUNS - 1) {
        // Where the last run's time went: each resource's start and end on the page's clock.
        const entries = await page.evaluate(() =>
          performance
            .getEntriesByType('resource')
            // Resource entries carry responseEnd (this script is typed without the DOM's types).
            .map((entry) => entry as typeof entry & { responseEnd: number })
            .map(
              (entry) =>
                `${new URL(entry.name).pathname} ${entry.startTime.toFixed(0)}-${entry.responseEnd.toFixed(0)} ms`,
            ),
        );
        console.log(`last run's requests: ${entries.join('; ')}`);
      }
      await context.close();
    }
    const worst = Math.max(...times);
    console.log(
      `first render of the video list (${VIDEOS} videos, first page of 20), ${RUNS} runs: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms; worst ${worst.toFixed(0)} ms (target < ${RENDER_BUDGET_MS} ms): ${verdict(worst < RENDER_BUDGET_MS)}`,
    );
  } finally {
    await browser.close();
    await app.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
