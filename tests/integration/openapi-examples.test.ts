import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/api/openapi-document.js';

interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { $ref?: string; value?: unknown }>;
}
interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { examples?: unknown[] }>;
    examples: Record<string, { summary?: string; value: unknown }>;
  };
}

/** One example in the document, with the JSON Pointer of the schema it must match. */
interface Example {
  where: string;
  schemaPointer: string;
  value: unknown;
  /** The status of the response it illustrates; none for request bodies and components. */
  status?: number;
  /** Whether it stands beside the error body's schema. */
  isError?: boolean;
}

let document: Document;
let ajv: Ajv2020;
let operations: { where: string; path: string; operation: Operation }[];

/** JSON Pointer, escaped and percent-encoded for a URI fragment. */
function pointer(...segments: string[]): string {
  return segments.map((segment) => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

function validator(schemaPointer: string): ValidateFunction {
  const ref = `openapi.json#/${schemaPointer}`;
  return ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
}

/** The examples of one media type: inline, or named in `components.examples`. */
function examplesOf(media: Media, where: string, schemaPointer: string, status?: number): Example[] {
  const found: Example[] = [];
  const isError = (media.schema as { $ref?: string } | undefined)?.$ref === '#/components/schemas/Error';
  if (media.example !== undefined) found.push({ where, schemaPointer, value: media.example, status, isError });
  for (const [name, example] of Object.entries(media.examples ?? {})) {
    const value = example.$ref
      ? document.components.examples[example.$ref.replace('#/components/examples/', '')]?.value
      : example.value;
    found.push({ where: `${where} (${name})`, schemaPointer, value, status, isError });
  }
  return found;
}

/** Every example the document holds, each with the schema it stands beside. */
function everyExample(): Example[] {
  const found: Example[] = [];
  for (const { where, path, operation } of operations) {
    const method = where.split(' ')[0]!.toLowerCase();
    for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
      const at = pointer('paths', path, method, 'requestBody', 'content', type, 'schema');
      found.push(...examplesOf(media, `${where} request`, at));
    }
    for (const [status, response] of Object.entries(operation.responses)) {
      for (const [type, media] of Object.entries(response.content ?? {})) {
        const at = pointer('paths', path, method, 'responses', status, 'content', type, 'schema');
        found.push(...examplesOf(media, `${where} ${status}`, at, Number(status)));
      }
    }
  }
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    for (const value of schema.examples ?? [])
      found.push({ where: `component ${name}`, schemaPointer: pointer('components', 'schemas', name), value });
  }
  return found;
}

beforeAll(async () => {
  document = (await buildOpenApiDocument()) as Document;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  operations = Object.entries(document.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, operation]) => ({
      where: `${method.toUpperCase()} ${path}`,
      path,
      operation,
    })),
  );
});

describe('the examples of the OpenAPI document', () => {
  it('give every JSON request body and every JSON answer of every operation an example', () => {
    const without: string[] = [];
    for (const { where, operation } of operations) {
      const bodies = [
        ...Object.entries(operation.requestBody?.content ?? {}).map(([type, media]) => [`request ${type}`, media]),
        ...Object.entries(operation.responses).flatMap(([status, response]) =>
          Object.entries(response.content ?? {}).map(([type, media]) => [`${status} ${type}`, media]),
        ),
      ] as [string, Media][];
      for (const [what, media] of bodies) {
        // A file download's body is the file itself: there is nothing to show.
        if (!what.endsWith('application/json')) continue;
        if (media.example === undefined && Object.keys(media.examples ?? {}).length === 0)
          without.push(`${where} ${what}`);
      }
    }
    expect(without).toEqual([]);
  });

  it('match the schema they stand beside, every one of them', () => {
    const examples = everyExample();
    // Every operation has a few; a walk that finds none would make the check below pass vacuously.
    expect(examples.length).toBeGreaterThan(operations.length * 3);
    const invalid = examples.flatMap(({ where, schemaPointer, value }) => {
      const validate = validator(schemaPointer);
      return validate(value) ? [] : [`${where}: ${ajv.errorsText(validate.errors)}`];
    });
    expect(invalid).toEqual([]);
  });

  it('answer errors with the status they are documented under, from an example that exists', () => {
    const wrong: string[] = [];
    const errors = everyExample().filter((example) => example.isError === true);
    expect(errors.length).toBeGreaterThan(operations.length * 3);
    for (const { where, value, status } of errors) {
      if (value === undefined) wrong.push(`${where}: refers to no example`);
      else if ((value as { statusCode?: number }).statusCode !== status)
        wrong.push(`${where}: statusCode ${(value as { statusCode?: number }).statusCode}`);
    }
    expect(wrong).toEqual([]);
  });

  it('name the conflict each operation answers 409 with, and the object a 404 is about', () => {
    const errorCode = (path: string, method: string, status: string) => {
      const ref = document.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.examples;
      const name = Object.values(ref ?? {})[0]?.$ref?.replace('#/components/examples/', '') ?? '';
      return (document.components.examples[name]?.value as { errorCode?: string } | undefined)?.errorCode;
    };
    expect(errorCode('/api/v1/videos/{videoId}/in/restart', 'post', '409')).toBe('VIDEO_IN_OPERATION_NOT_FAILED');
    expect(errorCode('/api/v1/projects/{projectId}', 'delete', '409')).toBe('PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED');
    expect(errorCode('/api/v1/webhooks/{webhookId}/test', 'post', '409')).toBe('WEBHOOK_NOT_ACTIVE');
    expect(errorCode('/api/v1/videos/{videoId}/thumbnails', 'get', '409')).toBe('VIDEO_NOT_FULLY_INGESTED');
    expect(errorCode('/api/v1/projects/{projectId}', 'get', '404')).toBe('RESOURCE_NOT_FOUND');
    expect(errorCode('/api/v1/teams/{teamId}', 'get', '404')).toBe('TEAM_NOT_FOUND');
    expect(errorCode('/api/v1/videos', 'get', '404')).toBe('TEAM_NOT_FOUND');
    expect(errorCode('/api/downloads/{videoId}/{fileName}', 'get', '403')).toBe('ACCESS_DENIED');
  });

  it('would catch an example that does not match its schema', () => {
    const example = structuredClone(document.components.schemas.Video?.examples?.[0]) as {
      flags: { isClip: unknown };
      createdAt: unknown;
    };
    expect(validator(pointer('components', 'schemas', 'Video'))(example)).toBe(true);
    example.flags.isClip = 'no';
    expect(validator(pointer('components', 'schemas', 'Video'))(example)).toBe(false);
    const error = structuredClone(document.components.examples.VideoNotFound?.value) as { statusCode: unknown };
    error.statusCode = '404';
    expect(validator(pointer('components', 'schemas', 'Error'))(error)).toBe(false);
  });
});
