/**
 * Host name resolution for outbound connections. The resolver is asked once per checked URL; the
 * connections that follow use only the addresses it returned (see pinned-pool.ts).
 */
import dns from 'node:dns';
import { AppError } from '../domain/errors.js';

export interface HostResolver {
  /** Every address of the host, both families; an empty list when the name does not exist. */
  resolve(hostname: string): Promise<string[]>;
}

const notFoundCodes = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

/** The operating system's resolver (getaddrinfo: /etc/hosts, then DNS), with a timeout. */
export class SystemResolver implements HostResolver {
  constructor(private readonly timeoutMs: number) {}

  async resolve(hostname: string): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AppError('INVALID_HTTPS_URL', `resolving the host ${hostname} timed out after ${this.timeoutMs} ms`, {
              reason: 'UNRESOLVABLE_HOST',
              host: hostname,
            }),
          ),
        this.timeoutMs,
      );
    });
    try {
      const answers = await Promise.race([dns.promises.lookup(hostname, { all: true, verbatim: true }), timeout]);
      return [...new Set(answers.map((answer) => answer.address))];
    } catch (error) {
      if (notFoundCodes.has((error as NodeJS.ErrnoException).code ?? '')) return [];
      if (error instanceof AppError) throw error;
      throw new AppError(
        'INVALID_HTTPS_URL',
        `the host ${hostname} could not be resolved: ${(error as Error).message}`,
        { reason: 'UNRESOLVABLE_HOST', host: hostname },
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
