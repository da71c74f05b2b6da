import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generateWebApiTypes, openApiPath, webApiTypesPath } from '../../scripts/web-api-types.js';

describe('the web application API types', () => {
  it('are the ones generated from the committed openapi.json (run `npm run web:api-types` after changing it)', async () => {
    const expected = await generateWebApiTypes(await readFile(openApiPath, 'utf8'));
    const committed = await readFile(webApiTypesPath, 'utf8');
    expect(committed).toBe(expected);
  });

  it('change when the document changes, so a stale file is caught', async () => {
    const document = JSON.parse(await readFile(openApiPath, 'utf8')) as {
      components: { schemas: Record<string, any> };
    };
    document.components.schemas.Team.properties.extraField = { type: 'string' };
    const changed = await generateWebApiTypes(JSON.stringify(document));
    expect(changed).toContain('extraField');
    expect(changed).not.toBe(await readFile(webApiTypesPath, 'utf8'));
  });
});
