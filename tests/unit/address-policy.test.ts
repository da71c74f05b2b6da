import { describe, it, expect } from 'vitest';
import {
  checkAddress,
  classifyAddress,
  describeRange,
  parseCidrList,
  type AddressRange,
} from '../../src/net/address-policy.js';

// Each range at its first, a middle and its last address, with the neighbours just outside it.
const ipv4Cases: [string, AddressRange][] = [
  ['0.0.0.0', 'unspecified'],
  ['0.128.0.1', 'unspecified'],
  ['0.255.255.255', 'unspecified'],
  ['1.0.0.0', 'public'],
  ['9.255.255.255', 'public'],
  ['10.0.0.0', 'private'],
  ['10.128.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['11.0.0.0', 'public'],
  ['100.63.255.255', 'public'],
  ['100.64.0.0', 'carrierGradeNat'],
  ['100.100.100.100', 'carrierGradeNat'],
  ['100.127.255.255', 'carrierGradeNat'],
  ['100.128.0.0', 'public'],
  ['126.255.255.255', 'public'],
  ['127.0.0.0', 'loopback'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.255', 'loopback'],
  ['128.0.0.0', 'public'],
  ['169.253.255.255', 'public'],
  ['169.254.0.0', 'linkLocal'],
  ['169.254.169.254', 'linkLocal'],
  ['169.254.255.255', 'linkLocal'],
  ['169.255.0.0', 'public'],
  ['172.15.255.255', 'public'],
  ['172.16.0.0', 'private'],
  ['172.20.10.5', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.0', 'public'],
  ['191.255.255.255', 'public'],
  ['192.0.0.0', 'reserved'],
  ['192.0.0.170', 'reserved'],
  ['192.0.0.255', 'reserved'],
  ['192.0.1.0', 'public'],
  ['192.0.1.255', 'public'],
  ['192.0.2.0', 'documentation'],
  ['192.0.2.128', 'documentation'],
  ['192.0.2.255', 'documentation'],
  ['192.0.3.0', 'public'],
  ['192.88.98.255', 'public'],
  ['192.88.99.0', 'reserved'],
  ['192.88.99.1', 'reserved'],
  ['192.88.99.255', 'reserved'],
  ['192.88.100.0', 'public'],
  ['192.167.255.255', 'public'],
  ['192.168.0.0', 'private'],
  ['192.168.1.1', 'private'],
  ['192.168.255.255', 'private'],
  ['192.169.0.0', 'public'],
  ['198.17.255.255', 'public'],
  ['198.18.0.0', 'benchmarking'],
  ['198.19.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['198.20.0.0', 'public'],
  ['198.51.99.255', 'public'],
  ['198.51.100.0', 'documentation'],
  ['198.51.100.77', 'documentation'],
  ['198.51.100.255', 'documentation'],
  ['198.51.101.0', 'public'],
  ['203.0.112.255', 'public'],
  ['203.0.113.0', 'documentation'],
  ['203.0.113.99', 'documentation'],
  ['203.0.113.255', 'documentation'],
  ['203.0.114.0', 'public'],
  ['223.255.255.255', 'public'],
  ['224.0.0.0', 'multicast'],
  ['224.0.0.1', 'multicast'],
  ['232.1.2.3', 'multicast'],
  ['239.255.255.255', 'multicast'],
  ['240.0.0.0', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['248.1.2.3', 'reserved'],
  ['255.255.255.254', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['93.184.216.34', 'public'],
  ['192.175.48.1', 'public'],
];

const max = 'ffff:ffff:ffff:ffff:ffff';
const ipv6Cases: [string, AddressRange][] = [
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['::2', 'ipv4Compatible'],
  ['::7f00:1', 'ipv4Compatible'],
  ['::ffff:ffff', 'ipv4Compatible'],
  ['::1:0:0', 'reserved'],
  ['::fffe:ffff:ffff', 'reserved'],
  ['::ffff:0:0', 'ipv4Mapped'],
  ['::ffff:7f00:1', 'ipv4Mapped'],
  ['::ffff:ffff:ffff', 'ipv4Mapped'],
  ['::1:0:0:0', 'reserved'],
  ['64:ff9b::', 'nat64'],
  ['64:ff9b::808:808', 'nat64'],
  ['64:ff9b::ffff:ffff', 'nat64'],
  ['64:ff9b::1:0:0', 'reserved'],
  ['64:ff9b:1::', 'nat64'],
  ['64:ff9b:1:abcd::1', 'nat64'],
  [`64:ff9b:1:${max}`, 'nat64'],
  ['64:ff9b:2::', 'reserved'],
  ['100::', 'reserved'],
  [`100::ffff:ffff:ffff:ffff`, 'reserved'],
  ['100:0:0:1::', 'reserved'],
  [`1fff:ffff:ffff:${max}`, 'reserved'],
  ['2000::', 'public'],
  ['2001::', 'teredo'],
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'teredo'],
  [`2001:0:ffff:${max}`, 'teredo'],
  ['2001:1::', 'reserved'],
  ['2001:2::', 'benchmarking'],
  ['2001:2:0:abcd::1', 'benchmarking'],
  [`2001:2:0:${max}`, 'benchmarking'],
  ['2001:2:1::', 'reserved'],
  ['2001:3::1', 'reserved'],
  ['2001:20::1', 'reserved'],
  [`2001:1ff:ffff:${max}`, 'reserved'],
  ['2001:200::', 'public'],
  [`2001:db7:ffff:${max}`, 'public'],
  ['2001:db8::', 'documentation'],
  ['2001:db8:1234::1', 'documentation'],
  [`2001:db8:ffff:${max}`, 'documentation'],
  ['2001:db9::', 'public'],
  [`2001:ffff:ffff:${max}`, 'public'],
  ['2002::', '6to4'],
  ['2002:7f00:1::', '6to4'],
  [`2002:ffff:ffff:${max}`, '6to4'],
  ['2003::', 'public'],
  [`3ffe:ffff:ffff:${max}`, 'public'],
  ['3fff::', 'documentation'],
  ['3fff:abc::1', 'documentation'],
  [`3fff:fff:ffff:${max}`, 'documentation'],
  ['3fff:1000::', 'public'],
  [`3fff:ffff:ffff:${max}`, 'public'],
  ['4000::', 'reserved'],
  ['5f00::1', 'reserved'],
  [`fbff:ffff:ffff:${max}`, 'reserved'],
  ['fc00::', 'uniqueLocal'],
  ['fd12:3456::1', 'uniqueLocal'],
  [`fdff:ffff:ffff:${max}`, 'uniqueLocal'],
  ['fe00::', 'reserved'],
  [`fe7f:ffff:ffff:${max}`, 'reserved'],
  ['fe80::', 'linkLocal'],
  ['fe80::1', 'linkLocal'],
  [`febf:ffff:ffff:${max}`, 'linkLocal'],
  ['fec0::', 'siteLocal'],
  ['fec0::1', 'siteLocal'],
  [`feff:ffff:ffff:${max}`, 'siteLocal'],
  ['ff00::', 'multicast'],
  ['ff02::1', 'multicast'],
  [`ffff:ffff:ffff:${max}`, 'multicast'],
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450::1', 'public'],
  ['2001:4860:4860::8888', 'public'],
];

const allRanges = Object.keys({
  public: 0,
  unspecified: 0,
  loopback: 0,
  private: 0,
  uniqueLocal: 0,
  linkLocal: 0,
  siteLocal: 0,
  multicast: 0,
  broadcast: 0,
  carrierGradeNat: 0,
  reserved: 0,
  documentation: 0,
  benchmarking: 0,
  ipv4Mapped: 0,
  ipv4Compatible: 0,
  nat64: 0,
  '6to4': 0,
  teredo: 0,
} satisfies Record<AddressRange, 0>) as AddressRange[];

describe('classifyAddress', () => {
  it.each(ipv4Cases)('classifies %s as %s', (address, range) => {
    expect(classifyAddress(address)).toStrictEqual({ address, family: 4, range });
  });

  it.each(ipv6Cases)('classifies %s as %s', (address, range) => {
    const classification = classifyAddress(address);
    expect(classification.family).toBe(6);
    expect(classification.range).toBe(range);
  });

  it.each([
    ['::ffff:0:0', 'ipv4Mapped', '0.0.0.0'],
    ['::ffff:127.0.0.1', 'ipv4Mapped', '127.0.0.1'],
    ['::ffff:a9fe:a9fe', 'ipv4Mapped', '169.254.169.254'],
    ['::ffff:ffff:ffff', 'ipv4Mapped', '255.255.255.255'],
    ['::2', 'ipv4Compatible', '0.0.0.2'],
    ['::127.0.0.1', 'ipv4Compatible', '127.0.0.1'],
    ['::ffff:ffff', 'ipv4Compatible', '255.255.255.255'],
    ['64:ff9b::7f00:1', 'nat64', '127.0.0.1'],
    ['64:ff9b::10.0.0.1', 'nat64', '10.0.0.1'],
    ['64:ff9b:1::a00:1', 'nat64', '10.0.0.1'],
    ['2002:7f00:1::', '6to4', '127.0.0.1'],
    ['2002:c000:201:1234::1', '6to4', '192.0.2.1'],
    ['2002::', '6to4', '0.0.0.0'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'teredo', '127.0.0.1'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo', '192.0.2.45'],
    [`2001:0:ffff:${max}`, 'teredo', '0.0.0.0'],
  ])('reports that %s (%s) embeds %s', (address, range, embeddedIPv4) => {
    expect(classifyAddress(address)).toMatchObject({ range, embeddedIPv4 });
  });

  it.each(['::1', 'fe80::1', '2001:db8::1', '2606:4700:4700::1111', '10.0.0.1'])(
    'reports no embedded IPv4 for %s',
    (address) => {
      expect(classifyAddress(address)).not.toHaveProperty('embeddedIPv4');
    },
  );

  it.each([
    ['FE80::0001', 'fe80::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['0:0:0:0:0:ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::127.0.0.1', '::7f00:1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
  ])('gives %s the canonical form %s', (input, canonical) => {
    expect(classifyAddress(input).address).toBe(canonical);
  });

  it('classifies ::127.0.0.1 as IPv4-compatible, not IPv4-mapped', () => {
    expect(classifyAddress('::127.0.0.1').range).toBe('ipv4Compatible');
  });

  it('classifies a link-local address with a zone id as link-local', () => {
    expect(classifyAddress('fe80::1%eth0').range).toBe('linkLocal');
  });

  it.each([
    '',
    'localhost',
    'example.com',
    '127.1',
    '0x7f000001',
    '2130706433',
    '017700000001',
    '0x7f.0.0.1',
    '010.0.0.1',
    '256.0.0.1',
    '1.2.3.4.5',
    '127.0.0.1.',
    ' 127.0.0.1',
    '127.0.0.1 ',
    '[::1]',
    '1::2::3',
    '1:::2',
    '12345::',
    '::ffff:0x7f.0.0.1',
    '::ffff:127.1',
    '::ffff:010.0.0.1',
    '1.2.3.4/32',
    '::1/128',
  ])('throws TypeError for %j', (text) => {
    expect(() => classifyAddress(text)).toThrow(TypeError);
  });
});

describe('describeRange', () => {
  it.each(allRanges)('describes %s as a phrase starting with an article', (range) => {
    expect(describeRange(range)).toMatch(/^(a|an|the) \S/);
  });

  it.each([
    ['loopback', 'a loopback address'],
    ['private', 'a private address (RFC 1918)'],
    ['uniqueLocal', 'a unique-local IPv6 address (fc00::/7)'],
    ['ipv4Mapped', 'an IPv4-mapped IPv6 address'],
    ['carrierGradeNat', 'a carrier-grade NAT address (100.64.0.0/10)'],
  ] as const)('describes %s as %j', (range, phrase) => {
    expect(describeRange(range)).toBe(phrase);
  });

  it('gives every range its own phrase', () => {
    expect(new Set(allRanges.map(describeRange)).size).toBe(allRanges.length);
  });
});

describe('checkAddress with only public addresses allowed', () => {
  it.each([...ipv4Cases, ...ipv6Cases].filter(([, range]) => range === 'public'))('allows %s', (address) => {
    expect(checkAddress(address, false)).toMatchObject({ allowed: true, reason: null });
  });

  it.each([...ipv4Cases, ...ipv6Cases].filter(([, range]) => range !== 'public'))(
    'refuses %s as %s',
    (address, range) => {
      const verdict = checkAddress(address, false);
      expect(verdict.allowed).toBe(false);
      expect(verdict.classification.range).toBe(range);
      expect(verdict.reason).toContain(verdict.classification.address);
    },
  );

  it.each([
    ['127.0.0.1', '127.0.0.1 is a loopback address'],
    ['10.0.0.1', '10.0.0.1 is a private address (RFC 1918)'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1 is an IPv4-mapped IPv6 address embedding 127.0.0.1'],
    [
      '2001:0:4136:e378:8000:63bf:80ff:fffe',
      '2001:0:4136:e378:8000:63bf:80ff:fffe is a Teredo IPv6 address embedding 127.0.0.1',
    ],
  ])('explains why %s is refused', (address, reason) => {
    expect(checkAddress(address, false).reason).toBe(reason);
  });

  it.each(['::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '::8.8.8.8'])(
    'refuses %s although it embeds a public IPv4',
    (address) => {
      expect(checkAddress(address, false).allowed).toBe(false);
    },
  );

  it('throws TypeError for text that is not an IP address', () => {
    expect(() => checkAddress('localhost', false)).toThrow(TypeError);
  });
});

describe('checkAddress with every local network allowed (development)', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '192.0.2.1',
    '198.18.0.1',
    '8.8.8.8',
    '::1',
    'fd00::1',
    'fe80::1',
    'fec0::1',
    '2001:db8::1',
    '2001:2::1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::7f00:1',
    '64:ff9b::a00:1',
    '2002:a00:1::',
    '2001:0:4136:e378:8000:63bf:80ff:fffe',
    '2606:4700:4700::1111',
  ])('allows %s', (address) => {
    expect(checkAddress(address, true)).toMatchObject({ allowed: true, reason: null });
  });

  it.each([
    '0.0.0.0',
    '0.1.2.3',
    '::',
    '224.0.0.1',
    '239.255.255.255',
    'ff02::1',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.0.1',
    '192.88.99.1',
    '100::1',
    '4000::1',
    '2001:1::1',
  ])('still refuses %s', (address) => {
    expect(checkAddress(address, true).allowed).toBe(false);
  });

  it.each([
    '::ffff:0.0.0.0',
    '::ffff:224.0.0.1',
    '::ffff:255.255.255.255',
    '::ffff:240.0.0.1',
    '2002:e000:1::',
    '64:ff9b::e000:1',
  ])('refuses %s, whose embedded IPv4 is never allowed', (address) => {
    expect(checkAddress(address, true).allowed).toBe(false);
  });
});

describe('checkAddress with a list of allowed networks', () => {
  const onlyLoopbackHost = parseCidrList('127.0.0.1/32');
  const privateNetworks = parseCidrList('10.0.0.0/8,fd00::/8');

  it.each(['127.0.0.1', '::ffff:127.0.0.1', '8.8.8.8', '2a00:1450::1'])(
    'allows %s with 127.0.0.1/32 listed',
    (address) => {
      expect(checkAddress(address, onlyLoopbackHost)).toMatchObject({ allowed: true, reason: null });
    },
  );

  it.each(['127.0.0.2', '127.0.0.0', '10.0.0.1', '::1', '::7f00:1', '64:ff9b::7f00:1', '0.0.0.0'])(
    'refuses %s with 127.0.0.1/32 listed',
    (address) => {
      expect(checkAddress(address, onlyLoopbackHost).allowed).toBe(false);
    },
  );

  it.each([
    '10.0.0.0',
    '10.1.2.3',
    '10.255.255.255',
    'fd00::',
    'fd12::1',
    `fdff:ffff:ffff:${max}`,
    '::ffff:10.1.2.3',
    '11.0.0.0',
  ])('allows %s with 10.0.0.0/8 and fd00::/8 listed', (address) => {
    expect(checkAddress(address, privateNetworks).allowed).toBe(true);
  });

  it.each(['172.16.0.1', '192.168.0.1', 'fc00::1', 'fe80::1', '127.0.0.1'])(
    'refuses %s with 10.0.0.0/8 and fd00::/8 listed',
    (address) => {
      expect(checkAddress(address, privateNetworks).allowed).toBe(false);
    },
  );

  it('allows a reserved address inside a listed network', () => {
    expect(checkAddress('240.0.0.1', parseCidrList('240.0.0.0/4')).allowed).toBe(true);
  });

  it.each([
    ['224.0.0.1', '224.0.0.0/3'],
    ['255.255.255.255', '224.0.0.0/3'],
    ['0.0.0.0', '0.0.0.0/0'],
    ['::', '::/0'],
    ['ff02::1', '::/0'],
    ['::ffff:0.0.0.0', '::ffff:0:0/96'],
    ['::ffff:224.0.0.1', '224.0.0.0/4'],
  ])('refuses %s even with %s listed', (address, list) => {
    expect(checkAddress(address, parseCidrList(list)).allowed).toBe(false);
  });

  it('refuses every non-public address with an empty list', () => {
    expect(checkAddress('127.0.0.1', []).allowed).toBe(false);
  });

  it('keeps the address in the reason for an address outside the list', () => {
    expect(checkAddress('127.0.0.2', onlyLoopbackHost).reason).toBe('127.0.0.2 is a loopback address');
  });
});

describe('parseCidrList', () => {
  it.each([
    ['127.0.0.1/32,10.0.0.0/8,fd00::/8', ['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8']],
    ['127.0.0.1', ['127.0.0.1/32']],
    ['::1', ['::1/128']],
    [' 10.0.0.0/8 , 192.168.0.0/16 ', ['10.0.0.0/8', '192.168.0.0/16']],
    ['FD00:0:0::/8', ['fd00::/8']],
    ['0.0.0.0/0,::/0', ['0.0.0.0/0', '::/0']],
    ['', []],
    ['   ', []],
  ])('parses %j', (text, expected) => {
    expect(parseCidrList(text).map((cidr) => cidr.text)).toStrictEqual(expected);
  });

  it.each([
    ['localhost', 'localhost'],
    ['10.0.0.0/8,nope', 'nope'],
    ['10.0.0.0/33', '10.0.0.0/33'],
    ['::/129', '::/129'],
    ['10.0.0.0/-1', '10.0.0.0/-1'],
    ['10.0.0.0/', '10.0.0.0/'],
    ['10.0.0.0/08', '10.0.0.0/08'],
    ['10.0.0.0/8/8', '10.0.0.0/8/8'],
    ['127.1/32', '127.1/32'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['10.0.0.1/8', '10.0.0.1/8'],
    ['10.0.0.0/8,,fd00::/8', ''],
    ['10.0.0.0/8,', ''],
  ])('refuses %j, naming the entry %j', (text, badEntry) => {
    expect(() => parseCidrList(text)).toThrow(TypeError);
    expect(() => parseCidrList(text)).toThrow(`"${badEntry}"`);
  });

  it('suggests the network and the single address when host bits are set', () => {
    expect(() => parseCidrList('10.0.0.1/8')).toThrow(/10\.0\.0\.0\/8 .*10\.0\.0\.1\/32/);
  });
});
