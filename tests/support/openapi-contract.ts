/**
 * Checks real responses against the committed OpenAPI document (openapi.json): each response's
 * status must be documented for its operation, and its JSON body must match the documented schema.
 * Records which operation answered which statuses, so a suite can tell what it has covered.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ApiResponse } from './test-service.js';

interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

export const openApiDocument = JSON.parse(
  readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'),
) as Document;

const templates = Object.keys(openApiDocument.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  parameters: (template.match(/\{/g) ?? []).length,
}));

/** The path template a request path is routed to: literal segments win over parameters, as the router does. */
export function templateOf(path: string): string | null {
  const matches = templates.filter(({ pattern }) => pattern.test(path)).sort((a, b) => a.parameters - b.parameters);
  return matches[0]?.template ?? null;
}

/** JSON Pointer, escaped and percent-encoded for a URI fragment. */
function pointer(...segments: string[]): string {
  return segments.map((segment) => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  /** `operationId` → the statuses seen. */
  readonly seen = new Map<string, Set<number>>();

  constructor() {
    addFormats.default(this.ajv);
    this.ajv.addSchema(openApiDocument, 'openapi.json');
  }

  /** Fails (throws) unless `response` to `method` `url` is one the document describes. */
  check(method: string, url: string, response: ApiResponse): void {
    const path = new URL(url, 'http://service.test').pathname;
    const template = templateOf(path);
    if (template === null) throw new Error(`${method} ${path} is not in the OpenAPI document`);
    const operation = openApiDocument.paths[template]?.[method.toLowerCase()];
    if (operation === undefined) throw new Error(`${method} ${template} is not in the OpenAPI document`);
    const documented = operation.responses[String(response.status)];
    if (documented === undefined)
      throw new Error(
        `${operation.operationId} answered ${response.status}, which is not documented: ${response.text}`,
      );
    const statuses = this.seen.get(operation.operationId) ?? new Set<number>();
    statuses.add(response.status);
    this.seen.set(operation.operationId, statuses);
    // A HEAD answer has the headers of the GET answer and no body to check.
    if (method === 'HEAD') return;
    const type = String(response.headers['content-type'] ?? '');
    const schema = documented.content?.['application/json']?.schema;
    if (!type.startsWith('application/json')) {
      if (schema !== undefined && response.text !== '')
        throw new Error(`${operation.operationId} ${response.status} documents JSON but answered ${type}`);
      return;
    }
    if (schema === undefined)
      throw new Error(`${operation.operationId} ${response.status} answered JSON the document has no schema for`);
    const ref = `openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', String(response.status), 'content', 'application/json', 'schema')}`;
    const validate = this.ajv.getSchema(ref) ?? this.ajv.compile({ $ref: ref });
    if (!validate(response.body))
      throw new Error(
        `${operation.operationId} ${response.status} does not match the document: ${this.ajv.errorsText(validate.errors)}\n${response.text}`,
      );
  }
}
