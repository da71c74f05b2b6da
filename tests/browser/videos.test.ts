/// <reference lib="dom" />
/**
 * The web application in Chromium against the real service and a local HTTPS origin: sign in,
 * import a real video with full ingestion and watch it copy and ingest live, its page (metadata,
 * quality, the web video playing and seeking, full frames, the clip), a failed import restarted,
 * deleting a video with its clip, sign out. Axe checks every page on the way.
 */
import fs from 'node:fs/promises';
import { crc32c } from '@node-rs/crc32';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { TEST_API_KEY } from '../support/test-service.js';
import { until } from '../support/wait.js';
import { ensureWebAppBuilt, launchChromium, saveScreenshot, seriousAxeViolations } from '../support/web-browser.js';

const MASTER_PATH = '/media/harbour%20master.mp4';
const SMALL_PATH = '/media/short.mp4';

let fx: E2eFixture;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let master: Buffer;
let masterId = '';
let clipId = '';

/** A link of the main navigation. */
function nav(name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

async function expectAccessible(name: string): Promise<void> {
  expect(await seriousAxeViolations(page), `axe on ${name}`).toEqual([]);
}

/** The value of the first copy progress bar on the page (bytes copied), or -1 while there is none. */
async function copiedBytes(): Promise<number> {
  const bar = page.locator('[data-testid="copy-progress"] progress').first();
  if ((await bar.count()) === 0) return -1;
  return Number(await bar.getAttribute('value'));
}

beforeAll(async () => {
  await ensureWebAppBuilt();
  fx = await startE2eFixture('pglite');
  master = await fs.readFile(await mediaFixture('progressive'));
  fx.origin.setFile(MASTER_PATH, { body: master, contentType: 'video/mp4' });
  // One connection at about a fifth of the file per second: the copy takes ~5 s, long enough to watch.
  fx.origin.setBehaviour(MASTER_PATH, { dripBytesPerSecond: Math.ceil(master.length / 5) });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  // What the page logs or fails on is shown with the test's output.
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      console.log(`[page ${message.type()}] ${message.text()}`);
  });
  page.on('pageerror', (error) => console.log(`[page error] ${error.message}`));
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await fx?.close();
});

describe('the web application', () => {
  it('refuses a wrong key with the API code, then signs in with the API key and shows the empty list', async () => {
    await page.goto(`${fx.service.url}/videos`);
    await page.waitForURL(/\/sign-in$/);
    await expectAccessible('sign-in');
    await saveScreenshot(page, 'sign-in');
    await page.getByLabel('API key', { exact: true }).fill('rln_wrong_key_0123456789abcdefghijklmnop');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('INVALID_API_KEY');

    await page.getByLabel('API key', { exact: true }).fill(TEST_API_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/videos$/);
    await page.getByText('This team has no videos yet.').waitFor();
    expect(page.url()).not.toContain(TEST_API_KEY);
    expect(await page.evaluate(() => sessionStorage.getItem('reelin.apiKey'))).toBe(TEST_API_KEY);
    await expectAccessible('videos (empty)');
  });

  it("shows the API's own words next to a refused field", async () => {
    await nav('Import').click();
    await page.waitForURL(/\/import$/);
    await expectAccessible('import');
    await page.getByLabel('Name', { exact: true }).fill('Harbour');
    await page.getByLabel('HTTPS URL', { exact: true }).fill(fx.url(MASTER_PATH));
    await page.getByLabel('Connections', { exact: true }).fill('50');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const refused = await fx.service.api('POST', '/api/v1/videos/in/https?maxConcurrentConnections=50', {
      body: { name: 'Harbour', url: fx.url(MASTER_PATH) },
    });
    expect(refused.status).toBe(400);
    const apiWords = refused.body.validationErrors.find(
      (item: any) => item.field === 'maxConcurrentConnections',
    ).message;
    await expect.poll(() => page.getByTestId('field-error').allTextContents()).toEqual([apiWords]);
    expect(await page.getByLabel('Connections', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await saveScreenshot(page, 'import-field-error');
  });

  it('imports a real video with full ingestion: it appears at once and its bar moves to DONE without a reload', async () => {
    // The bar moves through the event stream, not by polling: the page must be connected to it.
    await page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor();
    await page.evaluate(() => ((window as any).sameDocument = true));
    await page.getByLabel('Connections', { exact: true }).fill('1');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.waitForURL(/\/videos$/);
    const row = page.getByTestId('video-row').filter({ hasText: 'Harbour' });
    await row.waitFor();
    masterId = (await row.getAttribute('data-video-id')) ?? '';
    expect(masterId).toMatch(/^[0-9a-f-]{36}$/);
    // From here on by id: the clip's row will carry the master's name too.
    const masterRow = page.locator(`[data-testid="video-row"][data-video-id="${masterId}"]`);

    const first = await until('the copy to show progress', copiedBytes, (bytes) => bytes > 0, { timeoutMs: 20_000 });
    await saveScreenshot(page, 'videos-copying');
    const later = await until('the bar to move on', copiedBytes, (bytes) => bytes > first || bytes === -1, {
      timeoutMs: 20_000,
    });
    expect(later === -1 || later > first).toBe(true);

    // Copy, ingestion, then the free clip: the master's row ends "Ready".
    await masterRow.getByTestId('state-summary').filter({ hasText: 'Ready' }).waitFor({ timeout: 120_000 });
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
    // The free clip is cut and then ingested in its turn.
    const clipRow = page.getByTestId('video-row').filter({ hasText: '(clip)' });
    await clipRow.getByTestId('state-summary').filter({ hasText: 'Ready' }).waitFor({ timeout: 150_000 });
    clipId = (await clipRow.getAttribute('data-video-id')) ?? '';
    expect(clipId).not.toBe(masterId);
    await expect.poll(() => page.getByTestId('video-count').textContent()).toBe('2 videos');
    // Posters load once the ingestion made them.
    await expect.poll(() => masterRow.locator('img').count()).toBe(1);
    await expectAccessible('videos (list)');
    await saveScreenshot(page, 'videos');
  }, 300_000);

  it('opens the video: metadata, quality, timeline', async () => {
    await page.getByRole('link', { name: 'Harbour', exact: true }).click();
    await page.waitForURL(new RegExp(`/videos/${masterId}$`));
    const metadata = page.getByTestId('metadata');
    await metadata.waitFor();
    expect(await metadata.getByRole('row', { name: /Codec/ }).textContent()).toContain('h264');
    expect(await metadata.getByRole('row', { name: /Frame size/ }).textContent()).toContain('640 × 360');
    expect(await metadata.getByRole('row', { name: /Frame rate/ }).textContent()).toContain('25.000 fps');
    expect(await metadata.getByRole('row', { name: /Scan type detected/ }).textContent()).toContain('progressive');
    const video = (await fx.service.api('GET', `/api/v1/videos/${masterId}`)).body;
    const quality = video.ingestion.qualityAssessment;
    expect(await page.getByTestId('overall-score').textContent()).toBe(quality.overallSubjectiveScore.toFixed(1));
    expect(await page.getByTestId('quality').locator('meter').count()).toBe(quality.metrics.length);
    expect(await page.getByTestId('timeline').textContent()).toMatch(/Copy\s*DONE.*Ingestion\s*DONE/);
    await page.getByTestId('thumbnails').locator('img').first().waitFor();
    await expectAccessible('video');
    await saveScreenshot(page, 'video');
  });

  it('plays the web video and seeks in it', async () => {
    const player = page.getByTestId('web-video');
    await player.waitFor();
    await player.evaluate(async (element: HTMLVideoElement) => {
      element.muted = true;
      await element.play();
    });
    await expect
      .poll(() => player.evaluate((element: HTMLVideoElement) => element.currentTime), { timeout: 20_000 })
      .toBeGreaterThan(0.5);
    await player.evaluate((element: HTMLVideoElement) => {
      element.pause();
      element.currentTime = 9;
    });
    await expect
      .poll(
        () => player.evaluate((element: HTMLVideoElement) => ({ seeking: element.seeking, at: element.currentTime })),
        {
          timeout: 20_000,
        },
      )
      .toMatchObject({ seeking: false, at: 9 });
  });

  it('steps through the full frames with the arrow keys and the buttons', async () => {
    const viewer = page.getByTestId('frames-viewer');
    await viewer.waitFor();
    const position = viewer.getByTestId('frame-position');
    expect(await position.textContent()).toMatch(/^Frame 1 of \d+/);
    await viewer.focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => position.textContent()).toMatch(/^Frame 2 of/);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => position.textContent()).toMatch(/^Frame 2 of/);
    await viewer.getByRole('button', { name: /Previous/ }).click();
    await expect.poll(() => position.textContent()).toMatch(/^Frame 1 of/);
    const link = viewer.getByRole('link');
    const frames = (await fx.service.api('GET', `/api/v1/videos/${masterId}/full-frames`)).body.items;
    expect(new URL((await link.getAttribute('href')) ?? '', fx.service.url).pathname).toBe(
      new URL(frames[0].presignedUrl, fx.service.url).pathname,
    );
    expect(
      await viewer.locator('img').evaluate((image: HTMLImageElement) => image.complete && image.naturalWidth),
    ).toBeGreaterThan(0);
  });

  it('shows the free clip among the derived videos and opens it', async () => {
    const derived = page.getByTestId('derived');
    const clipLink = derived.getByRole('link').first();
    await clipLink.click();
    await page.waitForURL(new RegExp(`/videos/${clipId}$`));
    await page.getByText('A clip of').waitFor();
    await page.getByTestId('web-video').waitFor();
    await expectAccessible('clip');
    await saveScreenshot(page, 'clip');
  });

  it(
    'shows a failed copy with its code, and restarts it accepting the bytes after a checksum mismatch',
    { timeout: 120_000 },
    async () => {
      const small = await fs.readFile(await mediaFixture('short-4s'));
      fx.origin.setFile(SMALL_PATH, { body: small, contentType: 'video/mp4' });
      const wrong = (crc32c(small) + 1) >>> 0;
      await nav('Import').click();
      await page.getByLabel('Name', { exact: true }).fill('Mismatch');
      await page.getByLabel('HTTPS URL', { exact: true }).fill(fx.url(SMALL_PATH));
      await page.getByLabel('CRC32C (optional)', { exact: true }).fill(String(wrong));
      await page.getByLabel('Full ingestion', { exact: true }).uncheck();
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await page.waitForURL(/\/videos$/);
      const row = page.getByTestId('video-row').filter({ hasText: 'Mismatch' });
      await row.getByTestId('failure').filter({ hasText: 'CHECKSUM_MISMATCH' }).waitFor({ timeout: 30_000 });
      await saveScreenshot(page, 'videos-failed');
      await row.getByRole('link', { name: 'Mismatch' }).click();
      const actions = page.getByTestId('failed-copy-actions');
      await page.getByRole('button', { name: 'Restart the copy' }).click();
      await actions.getByRole('alert').filter({ hasText: 'VIDEO_IN_RESTART_CHECKSUM_MISMATCH' }).waitFor();
      await expectAccessible('failed video');
      await actions.getByLabel(/Accept the copied bytes/).check();
      await page.getByRole('button', { name: 'Restart the copy' }).click();
      // The copy is accepted at once (the bytes are all there); the metadata ingestion follows.
      await page.getByTestId('state-summary').filter({ hasText: 'Ready' }).waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('failed-copy-actions').count()).toBe(0);
      const videoId = new URL(page.url()).pathname.split('/').pop() ?? '';
      const status = await fx.service.api('GET', `/api/v1/videos/${videoId}/in/status`);
      expect(status.body.upload.uploadState.uploadStatus).toBe('DONE');
    },
  );

  it('deletes a video with its clip after a confirmation that names the clip', async () => {
    await page.goto(`${fx.service.url}/videos/${masterId}`);
    await page.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const clipName = (await fx.service.api('GET', `/api/v1/videos/${clipId}`)).body.name;
    expect(await dialog.getByTestId('delete-derived').textContent()).toBe(clipName);
    await expectAccessible('delete confirmation');
    await saveScreenshot(page, 'delete-confirmation');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/\/videos$/);
    expect((await fx.service.api('GET', `/api/v1/videos/${masterId}`)).status).toBe(404);
    expect((await fx.service.api('GET', `/api/v1/videos/${clipId}`)).status).toBe(404);
    // What is left is the other import (and its free clip, if it made one yet): the list shows exactly that.
    const left = (await fx.service.api('GET', '/api/v1/videos')).body.items.map((item: any) => item.id).sort();
    expect(left.length).toBeGreaterThan(0);
    expect(left).not.toContain(masterId);
    const shown = async () =>
      (
        await page.getByTestId('video-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-video-id')))
      ).sort();
    await expect.poll(shown).toEqual(left);
  });

  it('works at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByTestId('video-row').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await saveScreenshot(page, 'videos-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out: the key is forgotten and the pages ask for it again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in$/);
    expect(await page.evaluate(() => sessionStorage.getItem('reelin.apiKey'))).toBeNull();
    await page.goto(`${fx.service.url}/videos`);
    await page.waitForURL(/\/sign-in$/);
  });
});
