/**
 * Which IP addresses the service may connect to: the pure half of the SSRF defence.
 *
 * Every address is classified by one ordered table per family (first match wins, most specific
 * prefix first) instead of ipaddr's `range()`: its range names change between minor versions
 * (2.5 returns `deprecatedSiteLocal`, `discard` and `segmentRouting`, which its typings do not list)
 * and it folds documentation and benchmarking into `reserved`. A policy that silently changes with
 * a dependency update is not a policy, so the table here is the single source of truth.
 */
import ipaddr from 'ipaddr.js';

export type AddressRange =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'uniqueLocal'
  | 'linkLocal'
  | 'siteLocal'
  | 'multicast'
  | 'broadcast'
  | 'carrierGradeNat'
  | 'reserved'
  | 'documentation'
  | 'benchmarking'
  | 'ipv4Mapped'
  | 'ipv4Compatible'
  | 'nat64'
  | '6to4'
  | 'teredo';

export interface AddressClassification {
  /** Canonical text form: dotted decimal for IPv4, compressed lower-case (RFC 5952) for IPv6. */
  address: string;
  family: 4 | 6;
  range: AddressRange;
  /** The IPv4 address an embedding form (mapped, compatible, NAT64, 6to4, Teredo) carries. */
  embeddedIPv4?: string;
}

/** One entry of an operator-configured list of networks that may be reached although not public. */
export interface CidrRange {
  /** Canonical `address/prefix` form, for logs and messages. */
  readonly text: string;
  readonly network: ipaddr.IPv4 | ipaddr.IPv6;
  readonly prefixLength: number;
}

/**
 * `false`: only public addresses. `true` (local development and tests only): also every local and
 * embedding range, but never unspecified, multicast, broadcast or reserved addresses. A CIDR list:
 * also exactly the addresses inside one of the listed networks.
 */
export type PrivateNetworkAllowance = boolean | readonly CidrRange[];

export interface AddressVerdict {
  allowed: boolean;
  classification: AddressClassification;
  /** Why the address is refused, naming the address; null when it is allowed. */
  reason: string | null;
}

type ParsedAddress = ipaddr.IPv4 | ipaddr.IPv6;
type RangeTable<T extends ParsedAddress> = readonly { network: T; prefixLength: number; range: AddressRange }[];

function compileTable<T extends ParsedAddress>(
  parse: (cidr: string) => [T, number],
  rows: readonly [string, AddressRange][],
): RangeTable<T> {
  return rows.map(([cidr, range]) => {
    const [network, prefixLength] = parse(cidr);
    return { network, prefixLength, range };
  });
}

const ipv4Table = compileTable(
  (cidr) => ipaddr.IPv4.parseCIDR(cidr),
  [
    ['0.0.0.0/8', 'unspecified'],
    ['10.0.0.0/8', 'private'],
    ['100.64.0.0/10', 'carrierGradeNat'],
    ['127.0.0.0/8', 'loopback'],
    ['169.254.0.0/16', 'linkLocal'],
    ['172.16.0.0/12', 'private'],
    ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
    ['192.0.2.0/24', 'documentation'],
    ['192.88.99.0/24', 'reserved'], // deprecated 6to4 relay anycast
    ['192.168.0.0/16', 'private'],
    ['198.18.0.0/15', 'benchmarking'],
    ['198.51.100.0/24', 'documentation'],
    ['203.0.113.0/24', 'documentation'],
    ['224.0.0.0/4', 'multicast'],
    ['255.255.255.255/32', 'broadcast'], // before 240/4, which contains it
    ['240.0.0.0/4', 'reserved'],
  ],
);

const ipv6Table = compileTable(
  (cidr) => ipaddr.IPv6.parseCIDR(cidr),
  [
    ['::/128', 'unspecified'],
    ['::1/128', 'loopback'],
    ['::ffff:0:0/96', 'ipv4Mapped'],
    ['::/96', 'ipv4Compatible'],
    ['64:ff9b::/96', 'nat64'],
    ['64:ff9b:1::/48', 'nat64'],
    ['100::/64', 'reserved'], // discard-only
    ['2001::/32', 'teredo'],
    ['2001:2::/48', 'benchmarking'],
    ['2001::/23', 'reserved'], // IETF protocol assignments (ORCHID, AMT, AS112, ...)
    ['2001:db8::/32', 'documentation'],
    ['2002::/16', '6to4'],
    ['3fff::/20', 'documentation'],
    ['fc00::/7', 'uniqueLocal'],
    ['fe80::/10', 'linkLocal'],
    ['fec0::/10', 'siteLocal'],
    ['ff00::/8', 'multicast'],
  ],
);

// Only 2000::/3 is allocated for global unicast; everything else unlisted is IETF-reserved space.
const [globalUnicastNetwork, globalUnicastPrefix] = ipaddr.IPv6.parseCIDR('2000::/3');

const rangeDescriptions = {
  public: 'a public address',
  unspecified: 'an unspecified ("this network") address',
  loopback: 'a loopback address',
  private: 'a private address (RFC 1918)',
  uniqueLocal: 'a unique-local IPv6 address (fc00::/7)',
  linkLocal: 'a link-local address',
  siteLocal: 'a site-local IPv6 address (fec0::/10)',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  reserved: 'a reserved address',
  documentation: 'a documentation address',
  benchmarking: 'a benchmarking address',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  ipv4Compatible: 'an IPv4-compatible IPv6 address',
  nat64: 'a NAT64 IPv6 address',
  '6to4': 'a 6to4 IPv6 address',
  teredo: 'a Teredo IPv6 address',
} as const satisfies Record<AddressRange, string>;

/** What kind of address a range is, as a phrase for messages: 'a loopback address'. */
export function describeRange(range: AddressRange): string {
  return rangeDescriptions[range];
}

// Local ranges a developer may need to reach; unspecified, multicast, broadcast and reserved
// addresses are never a legitimate origin, whatever the allowance.
const developmentRanges: ReadonlySet<AddressRange> = new Set<AddressRange>([
  'public',
  'loopback',
  'private',
  'uniqueLocal',
  'linkLocal',
  'siteLocal',
  'carrierGradeNat',
  'documentation',
  'benchmarking',
  'ipv4Mapped',
  'ipv4Compatible',
  'nat64',
  '6to4',
  'teredo',
]);
const neverAllowedRanges: ReadonlySet<AddressRange> = new Set<AddressRange>(['unspecified', 'multicast', 'broadcast']);

/**
 * Parses only the plain forms resolvers and the WHATWG URL parser produce. ipaddr alone also accepts
 * `127.1`, `0x7f.0.0.1` and `010.0.0.1`, whose meaning differs between parsers: exactly the
 * ambiguity SSRF payloads rely on.
 */
function parseStrictAddress(text: string): ParsedAddress {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return ipaddr.IPv4.parse(text);
  }
  const ipv6Text = text.includes(':') ? replaceDottedTail(text) : null;
  if (ipv6Text !== null && ipaddr.IPv6.isValid(ipv6Text)) {
    return ipaddr.IPv6.parse(ipv6Text);
  }
  throw new TypeError(`${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}

/**
 * Rewrites a dotted IPv4 tail (`::ffff:1.2.3.4`) as two hex groups. ipaddr would accept hex or
 * octal parts there, and it parses `::1.2.3.4` as the mapped `::ffff:102:304` instead of the
 * IPv4-compatible `::102:304`. Returns null when the tail is not strict dotted decimal.
 */
function replaceDottedTail(text: string): string | null {
  const zoneStart = text.indexOf('%');
  const body = zoneStart === -1 ? text : text.slice(0, zoneStart);
  const zone = zoneStart === -1 ? '' : text.slice(zoneStart);
  if (!body.includes('.')) {
    return text;
  }
  const tailStart = body.lastIndexOf(':') + 1;
  const tail = body.slice(tailStart);
  if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) {
    return null;
  }
  const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(tail).octets;
  const groups = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return `${body.slice(0, tailStart)}${groups}${zone}`;
}

function lookupRange<T extends ParsedAddress>(table: RangeTable<T>, address: T): AddressRange | undefined {
  return table.find((row) => address.match(row.network, row.prefixLength))?.range;
}

function ipv6Range(address: ipaddr.IPv6): AddressRange {
  const listed = lookupRange(ipv6Table, address);
  if (listed !== undefined) {
    return listed;
  }
  return address.match(globalUnicastNetwork, globalUnicastPrefix) ? 'public' : 'reserved';
}

function ipv4FromBytes(bytes: readonly number[], offset: number, xorMask = 0): string {
  return bytes
    .slice(offset, offset + 4)
    .map((byte) => byte ^ xorMask)
    .join('.');
}

/**
 * The IPv4 address an embedding form carries. NAT64 assumes the /96 layout (RFC 6052), the only one
 * 64:ff9b::/96 uses and the usual one inside 64:ff9b:1::/48. Teredo stores the client address
 * inverted (RFC 4380), hence the XOR.
 */
function embeddedIPv4Of(address: ipaddr.IPv6, range: AddressRange): string | undefined {
  const bytes = address.toByteArray();
  switch (range) {
    case 'ipv4Mapped':
    case 'ipv4Compatible':
    case 'nat64':
      return ipv4FromBytes(bytes, 12);
    case '6to4':
      return ipv4FromBytes(bytes, 2);
    case 'teredo':
      return ipv4FromBytes(bytes, 12, 0xff);
    default:
      return undefined;
  }
}

function classifyParsed(address: ParsedAddress): AddressClassification {
  if (address instanceof ipaddr.IPv4) {
    return { address: address.toString(), family: 4, range: lookupRange(ipv4Table, address) ?? 'public' };
  }
  const range = ipv6Range(address);
  const embeddedIPv4 = embeddedIPv4Of(address, range);
  return { address: address.toString(), family: 6, range, ...(embeddedIPv4 === undefined ? {} : { embeddedIPv4 }) };
}

/** Classifies an IP address; throws TypeError for text that is not a plain IPv4 or IPv6 address. */
export function classifyAddress(address: string): AddressClassification {
  return classifyParsed(parseStrictAddress(address));
}

function cidrContains(cidr: CidrRange, address: ParsedAddress): boolean {
  if (cidr.network.kind() === address.kind()) {
    return address.match(cidr.network, cidr.prefixLength);
  }
  // The socket layer connects to the embedded IPv4 of a mapped address, so an IPv4 entry covers it.
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) {
    return address.toIPv4Address().match(cidr.network, cidr.prefixLength);
  }
  return false;
}

// An embedding form is only as acceptable as the IPv4 address it leads to: ::ffff:0.0.0.0 is
// 0.0.0.0, whatever the allowance says about mapped addresses.
function isAllowedBy(
  address: ParsedAddress,
  classification: AddressClassification,
  allowance: PrivateNetworkAllowance,
): boolean {
  if (classification.range === 'public') {
    return true;
  }
  if (allowance === false) {
    return false;
  }
  const ranges: AddressRange[] = [classification.range];
  if (classification.embeddedIPv4 !== undefined) {
    ranges.push(classifyAddress(classification.embeddedIPv4).range);
  }
  if (allowance === true) {
    return ranges.every((range) => developmentRanges.has(range));
  }
  return (
    !ranges.some((range) => neverAllowedRanges.has(range)) && allowance.some((cidr) => cidrContains(cidr, address))
  );
}

function refusalReason(classification: AddressClassification): string {
  const embedding = classification.embeddedIPv4 === undefined ? '' : ` embedding ${classification.embeddedIPv4}`;
  return `${classification.address} is ${describeRange(classification.range)}${embedding}`;
}

/** Decides whether the service may connect to `address`; throws TypeError if it is not an IP address. */
export function checkAddress(address: string, allowance: PrivateNetworkAllowance): AddressVerdict {
  const parsed = parseStrictAddress(address);
  const classification = classifyParsed(parsed);
  const allowed = isAllowedBy(parsed, classification, allowance);
  return { allowed, classification, reason: allowed ? null : refusalReason(classification) };
}

function parsePrefixLength(text: string, maxBits: number): number | null {
  if (!/^(0|[1-9]\d{0,2})$/.test(text)) {
    return null;
  }
  const bits = Number(text);
  return bits <= maxBits ? bits : null;
}

function networkAddress(address: ParsedAddress, prefixLength: number): ParsedAddress {
  const cidr = `${address.toString()}/${prefixLength}`;
  return address instanceof ipaddr.IPv4
    ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
    : ipaddr.IPv6.networkAddressFromCIDR(cidr);
}

function parseCidrEntry(entry: string): CidrRange {
  const invalid = (why: string) => new TypeError(`invalid network ${JSON.stringify(entry)}: ${why}`);
  if (entry === '') {
    throw invalid('the list has an empty entry (two commas in a row or a comma at an end)');
  }
  const [addressText = '', prefixText, ...extra] = entry.split('/');
  let network: ParsedAddress;
  try {
    network = parseStrictAddress(addressText);
  } catch {
    throw invalid('expected an IP address or CIDR range such as 10.0.0.0/8 or fd00::/8');
  }
  if (extra.length > 0 || (network instanceof ipaddr.IPv6 && network.zoneId !== undefined)) {
    throw invalid('expected an IP address or CIDR range such as 10.0.0.0/8 or fd00::/8');
  }
  const maxBits = network instanceof ipaddr.IPv4 ? 32 : 128;
  const prefixLength = prefixText === undefined ? maxBits : parsePrefixLength(prefixText, maxBits);
  if (prefixLength === null) {
    throw invalid(`the prefix length must be a whole number from 0 to ${maxBits}`);
  }
  // 10.0.0.1/8 is almost always a typo for 10.0.0.1/32; accepting it would open a whole /8.
  const base = networkAddress(network, prefixLength);
  if (base.toString() !== network.toString()) {
    throw invalid(
      `it has bits set after the /${prefixLength} prefix: write ${base.toString()}/${prefixLength} for the network or ${network.toString()}/${maxBits} for the one address`,
    );
  }
  return { text: `${network.toString()}/${prefixLength}`, network, prefixLength };
}

/**
 * Parses a comma-separated list such as `127.0.0.1/32,10.0.0.0/8,fd00::/8`; a bare address means
 * that one address. Blank text is the empty list. Throws TypeError naming the first bad entry.
 */
export function parseCidrList(text: string): CidrRange[] {
  if (text.trim() === '') {
    return [];
  }
  return text.split(',').map((entry) => parseCidrEntry(entry.trim()));
}
