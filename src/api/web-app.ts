/**
 * The web application at `/`: the built single-page application (dist/web by default) with
 * @fastify/static, index.html for every client-side route, and the pages' security headers.
 *
 * Paths the API owns (/api/..., /healthz, /readyz) never fall back to index.html: an unknown one
 * keeps the API's JSON 404. Hashed files under assets/ never change, so they are cached for a year
 * as immutable; index.html is revalidated each time so a new build is picked up at once. When the
 * folder holds no build, the application's paths answer 503 saying how to build it.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StorageConfig } from '../config/config.js';
import { AppError } from '../domain/errors.js';
import { sendError } from './errors.js';

export interface WebAppOptions {
  /** The built application: index.html and assets/. */
  dir: string;
  /** Where the pages load media and pictures from besides the service itself. */
  storage: StorageConfig;
  /** The base URL download links are made with, when the service is reached through another origin. */
  publicUrl: string | null;
}

const apiOwnedPrefixes = ['/api/', '/api?'];
const apiOwnedPaths = new Set(['/api', '/healthz', '/readyz']);

function isApiOwned(url: string): boolean {
  const pathOnly = url.split('?')[0] ?? url;
  return apiOwnedPaths.has(pathOnly) || apiOwnedPrefixes.some((prefix) => url.startsWith(prefix));
}

/** The origins a browser fetches stored media and pictures from: S3's (both addressing styles), the public URL's. */
export function mediaOrigins(storage: StorageConfig, publicUrl: string | null): string[] {
  const origins = new Set<string>();
  if (publicUrl !== null) origins.add(new URL(publicUrl).origin);
  if (storage.kind === 's3') {
    const endpoint = storage.publicEndpoint ?? storage.endpoint ?? `https://s3.${storage.region}.amazonaws.com`;
    const base = new URL(endpoint);
    origins.add(base.origin);
    if (!storage.forcePathStyle) origins.add(`${base.protocol}//${storage.bucket}.${base.host}`);
  }
  return [...origins];
}

/** The Content-Security-Policy of the application's pages: nothing inline, nothing from elsewhere but stored media. */
export function contentSecurityPolicy(extraMediaOrigins: readonly string[]): string {
  const media = ["'self'", ...extraMediaOrigins].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${media} data:`,
    `media-src ${media}`,
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The request's path without its leading slash, percent-decoded ('' when it cannot be decoded: index.html then). */
function decodedPath(url: string): string {
  try {
    return decodeURIComponent((url.split('?')[0] ?? '/').slice(1));
  } catch {
    return '';
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export function webAppRoutes(options: WebAppOptions) {
  const root = path.resolve(options.dir);
  const policy = contentSecurityPolicy(mediaOrigins(options.storage, options.publicUrl));
  const indexFile = path.join(root, 'index.html');

  return async function webApp(app: FastifyInstance): Promise<void> {
    // serve: false: only reply.sendFile; the one route below decides what each path gets.
    await app.register(fastifyStatic, { root, serve: false });
    app.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', policy);
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('cross-origin-opener-policy', 'same-origin');
    });

    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      if (isApiOwned(request.url)) return reply.callNotFound();
      if (!(await isFile(indexFile))) {
        return sendError(
          request,
          reply,
          new AppError(
            'SERVICE_UNAVAILABLE',
            'the web application is not built: run `npm run build` (or set REELIN_WEB_DIR to a built copy)',
          ),
        );
      }
      const relative = decodedPath(request.url);
      if (relative.startsWith('assets/')) {
        // A missing asset is a 404, never index.html (a script tag would get HTML).
        return reply.sendFile(relative, { immutable: true, maxAge: '365d', cacheControl: true });
      }
      const file = path.join(root, relative);
      reply.header('cache-control', 'no-cache');
      if (relative !== '' && file.startsWith(root + path.sep) && (await isFile(file)))
        return reply.sendFile(relative, { cacheControl: false });
      return reply.sendFile('index.html', { cacheControl: false });
    };
    app.get('/', { schema: { hide: true } }, serve);
    app.get('/*', { schema: { hide: true } }, serve);
  };
}
