/**
 * Generates the web application's API types (web/src/api/schema.d.ts) from the committed
 * openapi.json with openapi-typescript (`npm run web:api-types`). A test regenerates them in memory
 * and fails while the committed file differs, so the web client never drifts from the contract.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';

export const openApiPath = fileURLToPath(new URL('../openapi.json', import.meta.url));
export const webApiTypesPath = fileURLToPath(new URL('../web/src/api/schema.d.ts', import.meta.url));

const header = '// Generated from openapi.json by `npm run web:api-types`; do not edit by hand.\n\n';

/** The text schema.d.ts must hold for the given OpenAPI document. */
export async function generateWebApiTypes(documentText: string): Promise<string> {
  const document = JSON.parse(documentText) as OpenAPI3;
  const ast = await openapiTS(document, { alphabetize: false, exportType: true });
  return header + astToString(ast);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(webApiTypesPath, await generateWebApiTypes(await readFile(openApiPath, 'utf8')));
  console.log('wrote web/src/api/schema.d.ts');
}
