/**
 * One log line per request. Fastify writes two at the info level, `incoming request` when a request
 * arrives and `request completed` (or `request errored`) when it is answered, and each is a
 * synchronous write of a JSON line: on the status read that was about a fifth of the service's CPU
 * per request. Here only the second is written, and it carries the request (method, URL with its
 * secrets redacted, see logging.ts) beside the answer and the time taken. A request that never
 * ends (the process dies first) is no longer in the log.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {
    // Logged with the answer, by requestCompleted.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const fields = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}
