/**
 * API-key authentication: every route of a plugin that calls `requireApiKey` runs with
 * `request.principal` set, or ends in 401 before its body is even parsed.
 */
import type { FastifyInstance } from 'fastify';
import type { Principal, TenancyService } from '../services/tenancy.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export function requireApiKey(app: FastifyInstance, tenancy: TenancyService): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    const header = request.headers['x-api-key'];
    request.principal = await tenancy.authenticate(Array.isArray(header) ? header[0] : header);
  });
}
