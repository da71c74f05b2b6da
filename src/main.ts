#!/usr/bin/env -S node --max-semi-space-size=8 --no-liftoff
/**
 * The `reelin` command: `serve` (API and worker in one process, the default), `api`, `worker`, or
 * `migrate` (apply database migrations and exit), or `rotate-webhook-keys`. Configuration comes
 * from the environment.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, loadConfig } from './config/config.js';
import { rotateWebhookKeys, startApp, type Role } from './app.js';
import { PROCESS_UMASK } from './storage/data-dir-permissions.js';

const roles: readonly Role[] = ['serve', 'api', 'worker', 'migrate'];

const usage = `usage: reelin [serve | api | worker | migrate | rotate-webhook-keys]
       reelin --version | --help

  serve    run the API and a worker in one process (default); migrates the database first
  api      run the HTTP API only
  worker   run a worker only: it copies imported files into storage, ingests them with
           ffmpeg (metadata, thumbnails, frames, web video, quality, scan type), cuts the
           free clips and sends the webhooks
  migrate  apply database migrations and create the admin account, then exit
  rotate-webhook-keys
           make a new webhook signing key; the previous one stays valid for
           REELIN_WEBHOOK_KEY_OVERLAP_HOURS (embedded database: stop the service first)

Configuration comes from environment variables: PORT, HOST, REELIN_DATA_DIR, DATABASE_URL,
REELIN_ADMIN_API_KEY, ... (see README.md).`;

/** The version of the installed package, from the package.json beside dist/. */
async function readVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

async function main(argv: string[]): Promise<number> {
  // Before anything is created: the data folder and everything in it is the service user's alone.
  process.umask(PROCESS_UMASK);
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return 0;
  }
  if (command === '--version' || command === '-V') {
    console.log(`reelin ${await readVersion()}`);
    return 0;
  }
  const isRotation = command === 'rotate-webhook-keys';
  if ((!roles.includes(command as Role) && !isRotation) || rest.length > 0) {
    console.error(usage);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`reelin: ${error.message}`);
      return 78;
    }
    throw error;
  }
  if (isRotation) {
    const rotated = await rotateWebhookKeys(config);
    console.log(
      `reelin: webhook signing key ${rotated.keyId} is now active; the previous key stays valid until ${rotated.previousExpiresAt.toISOString()}`,
    );
    return 0;
  }
  const role = command as Role;
  const app = await startApp(config, role);
  if (app.generatedApiKey !== null) {
    // Printed once, outside the structured log, so it does not end up in log storage.
    process.stdout.write(
      `\nreelin: created the admin API key (it is shown only this once):\n\n    ${app.generatedApiKey}\n\n`,
    );
  }
  if (role === 'migrate') {
    app.log.info('migrations applied');
    return 0;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        app.log.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      app.log.info({ signal }, 'stopping');
      app.stop().then(resolve, (error: unknown) => {
        app.log.error({ err: error }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`reelin: could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
