import { STATUS_CODES } from 'node:http';

/** `404 Not Found` style text for messages. */
export function describeHttpStatus(status: number): string {
  const reason = STATUS_CODES[status];
  return reason ? `${status} ${reason}` : String(status);
}
