/**
 * What the browser tests share: the web application built once (`vite build`, only when web/
 * changed since dist/web was built, under a lock so parallel files do not build it twice), Debian's
 * Chromium through playwright-core (no browser download), axe, and screenshots saved to
 * test-results/screenshots (the README's pictures in docs/screenshots are copied from there).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { until } from './wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const webBuilt = path.join(root, 'dist', 'web', 'index.html');
const buildLock = path.join(root, 'dist', '.web-build-lock');
export const screenshotDir = path.join(root, 'test-results', 'screenshots');

export const CHROMIUM_PATH = '/usr/bin/chromium';
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The tests play the web video without a click; autoplay policy would otherwise ask for a gesture.
  '--autoplay-policy=no-user-gesture-required',
];

async function newestMtimeMs(entry: string): Promise<number> {
  const stats = await stat(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const child of await readdir(entry)) newest = Math.max(newest, await newestMtimeMs(path.join(entry, child)));
  return newest;
}

async function builtAtMs(): Promise<number> {
  try {
    return (await stat(webBuilt)).mtimeMs;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

async function isWebAppStale(): Promise<boolean> {
  const inputs = await Promise.all([path.join(root, 'web'), path.join(root, 'package-lock.json')].map(newestMtimeMs));
  return Math.max(...inputs) > (await builtAtMs());
}

/**
 * `vite build` in a child process with NODE_ENV=production: in the test runner's process
 * NODE_ENV is `test`, under which Vite and the React plugin would bundle React's development build.
 */
async function buildWebApp(): Promise<void> {
  const child = spawn('npx', ['vite', 'build', '--config', path.join('web', 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`building the web application failed (vite build exited ${code})`);
}

/** Builds dist/web when web/ is newer than it; a second caller waits for the first's build. */
export async function ensureWebAppBuilt(): Promise<void> {
  if (!(await isWebAppStale())) return;
  await mkdir(path.dirname(buildLock), { recursive: true });
  try {
    await mkdir(buildLock);
  } catch {
    await until(
      'the other test file to finish building the web application',
      () =>
        stat(buildLock).then(
          () => false,
          () => true,
        ),
      Boolean,
      {
        timeoutMs: 180_000,
        intervalMs: 250,
      },
    );
    return;
  }
  try {
    if (!(await isWebAppStale())) return;
    await buildWebApp();
  } finally {
    await rm(buildLock, { recursive: true, force: true });
  }
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: chromiumFlags });
}

/** Serious and critical axe violations of the page as it is now, as `rule: target...` lines (empty: none). */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

/** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}
