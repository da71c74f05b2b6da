/**
 * Which source URLs the service may import from, decided without I/O in two steps: the URL's syntax
 * (scheme, credentials, port, literal IP host) before any lookup, then every address its host
 * resolved to. The caller must connect only to addresses that passed the second step, or DNS
 * rebinding turns a checked name into an internal address between check and connect.
 */
import { AppError } from '../domain/errors.js';
import { checkAddress, describeRange, type AddressVerdict, type PrivateNetworkAllowance } from './address-policy.js';

export interface UrlPolicyOptions {
  /** Ports a source URL may name; a URL without a port uses 443. */
  allowedPorts: ReadonlySet<number>;
  /** Which non-public addresses may be reached; see PrivateNetworkAllowance. */
  allowance: PrivateNetworkAllowance;
}

export interface CheckedUrl {
  /** The parsed URL, fragment removed (it is never sent to the server). */
  url: URL;
  /** ASCII (punycode) host, lower-case, without IPv6 brackets or a trailing dot. */
  hostname: string;
  port: number;
  /** The canonical IP address when the host is an IP literal, in any encoding WHATWG URL accepts. */
  literalAddress: string | null;
}

export type UrlRefusalReason =
  | 'INVALID_URL'
  | 'SCHEME_NOT_HTTPS'
  | 'USER_INFO_NOT_ALLOWED'
  | 'PORT_NOT_ALLOWED'
  | 'MISSING_HOST'
  | 'ADDRESS_NOT_ALLOWED'
  | 'UNRESOLVABLE_HOST';

const defaultHttpsPort = 443;

function refuse(
  reason: UrlRefusalReason,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): AppError {
  return new AppError('INVALID_HTTPS_URL', message, { reason, ...details }, cause === undefined ? {} : { cause });
}

function parseUrl(input: string): URL {
  try {
    return new URL(input);
  } catch (error) {
    throw refuse(
      'INVALID_URL',
      'the URL is not a valid absolute URL: it must look like https://example.com/video.mp4',
      {},
      error,
    );
  }
}

function allowedPortsPhrase(sortedPorts: readonly number[]): string {
  if (sortedPorts.length === 0) {
    return 'no port is allowed by this server';
  }
  const [onlyPort] = sortedPorts;
  return sortedPorts.length === 1
    ? `only port ${onlyPort} can be used`
    : `only ports ${sortedPorts.join(', ')} can be used`;
}

function checkPort(url: URL, allowedPorts: ReadonlySet<number>): number {
  // WHATWG URL leaves `port` empty when it is the scheme's default, even when written out (:443).
  const port = url.port === '' ? defaultHttpsPort : Number(url.port);
  if (!allowedPorts.has(port)) {
    const sortedPorts = [...allowedPorts].sort((a, b) => a - b);
    throw refuse('PORT_NOT_ALLOWED', `port ${port} is not allowed: ${allowedPortsPhrase(sortedPorts)}`, {
      port,
      allowedPorts: sortedPorts,
    });
  }
  return port;
}

function literalAddressRule(allowance: PrivateNetworkAllowance): string {
  if (allowance === false) {
    return 'only public addresses can be imported from';
  }
  if (allowance === true) {
    return 'unspecified, multicast, broadcast and reserved addresses can never be imported from';
  }
  return 'only public addresses and the configured private networks can be imported from';
}

function resolvedAddressRule(allowance: PrivateNetworkAllowance): string {
  if (allowance === false) {
    return 'only hosts whose every address is public can be imported from';
  }
  if (allowance === true) {
    return 'hosts with an unspecified, multicast, broadcast or reserved address can never be imported from';
  }
  return 'only hosts whose every address is public or in the configured private networks can be imported from';
}

function literalAddressRefusal(verdict: AddressVerdict, allowance: PrivateNetworkAllowance): AppError {
  const { address, range, embeddedIPv4 } = verdict.classification;
  const embedding = embeddedIPv4 === undefined ? '' : ` (embedding ${embeddedIPv4})`;
  return refuse(
    'ADDRESS_NOT_ALLOWED',
    `the URL's host ${address} is ${describeRange(range)}${embedding}: ${literalAddressRule(allowance)}`,
    { host: address, address, range, ...(embeddedIPv4 === undefined ? {} : { embeddedIPv4 }) },
  );
}

// WHATWG URL has already turned every IPv4 spelling (0x7f.1, 2130706433, 017700000001, 127.0.0.1.)
// into dotted decimal and refuses any other host that ends in a number, so this shape is exact.
function isIpLiteral(rawHostname: string): boolean {
  return rawHostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(rawHostname);
}

/**
 * Checks everything about a source URL that can be decided before resolving its host. Throws
 * AppError INVALID_HTTPS_URL whose `details.reason` says which rule the URL breaks.
 */
export function checkUrlSyntax(input: string, options: UrlPolicyOptions): CheckedUrl {
  const url = parseUrl(input);
  if (url.protocol !== 'https:') {
    const scheme = url.protocol.slice(0, -1);
    throw refuse('SCHEME_NOT_HTTPS', `the URL must use https: ${scheme}:// is not allowed`, { scheme });
  }
  if (url.username !== '' || url.password !== '') {
    throw refuse(
      'USER_INFO_NOT_ALLOWED',
      'the URL must not contain a user name or password: remove the part before @ in the host',
    );
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (hostname === '') {
    throw refuse('MISSING_HOST', 'the URL must name a host, as in https://example.com/video.mp4');
  }
  // WHATWG URL accepts empty labels (a..b, 1.2.3.4..), which no resolver can look up consistently.
  if (hostname.startsWith('.') || hostname.endsWith('.') || hostname.includes('..')) {
    throw refuse(
      'INVALID_URL',
      `the URL's host ${hostname} is not a valid host name: it has an empty label between dots`,
    );
  }
  const port = checkPort(url, options.allowedPorts);
  let literalAddress: string | null = null;
  if (isIpLiteral(url.hostname)) {
    const verdict = checkAddress(hostname, options.allowance);
    if (!verdict.allowed) {
      throw literalAddressRefusal(verdict, options.allowance);
    }
    literalAddress = verdict.classification.address;
  }
  url.hash = '';
  return { url, hostname, port, literalAddress };
}

/**
 * Checks every address `checked.hostname` resolved to (both families); one refused address refuses
 * the host, since the connection could go to any of them. For a DNS name the message and details
 * name only the range, never the address: callers must not learn what internal names resolve to.
 * Throws TypeError if an entry is not an IP address, which means the resolver is broken.
 */
export function checkResolvedAddresses(
  checked: CheckedUrl,
  addresses: readonly string[],
  options: UrlPolicyOptions,
): void {
  const host = checked.hostname;
  if (addresses.length === 0) {
    throw refuse('UNRESOLVABLE_HOST', `the host ${host} could not be resolved: check the URL's host name`, { host });
  }
  for (const address of addresses) {
    const verdict = checkAddress(address, options.allowance);
    if (verdict.allowed) {
      continue;
    }
    if (checked.literalAddress !== null) {
      throw literalAddressRefusal(verdict, options.allowance);
    }
    const { range } = verdict.classification;
    throw refuse(
      'ADDRESS_NOT_ALLOWED',
      `the host ${host} resolves to ${describeRange(range)}: ${resolvedAddressRule(options.allowance)}`,
      { host, range },
    );
  }
}
