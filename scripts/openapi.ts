/**
 * Writes the service's OpenAPI document, as /api/docs/json serves it, to openapi.json at the
 * repository root (`npm run openapi`), formatted by Prettier, so every change to the contract shows
 * in review. A test fails while the committed file differs from the served document.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { buildOpenApiDocument } from '../src/api/openapi-document.js';

const target = fileURLToPath(new URL('../openapi.json', import.meta.url));
const options = (await resolveConfig(target)) ?? {};
await writeFile(target, await format(JSON.stringify(await buildOpenApiDocument()), { ...options, filepath: target }));
console.log('wrote openapi.json');
