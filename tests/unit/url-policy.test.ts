import { describe, it, expect } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { parseCidrList } from '../../src/net/address-policy.js';
import { checkResolvedAddresses, checkUrlSyntax, type UrlPolicyOptions } from '../../src/net/url-policy.js';

const publicOnly: UrlPolicyOptions = { allowedPorts: new Set([443]), allowance: false };
const development: UrlPolicyOptions = { allowedPorts: new Set([443]), allowance: true };

function refusalOf(action: () => unknown): AppError {
  try {
    action();
  } catch (error) {
    if (error instanceof AppError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected an AppError, but nothing was thrown');
}

function expectRefusal(action: () => unknown, reason: string): AppError {
  const error = refusalOf(action);
  expect(error.code).toBe('INVALID_HTTPS_URL');
  expect(error.details).toMatchObject({ reason });
  return error;
}

describe('checkUrlSyntax with a literal IP host', () => {
  it.each([
    ['https://127.1', '127.0.0.1', 'loopback'],
    ['https://0x7f000001', '127.0.0.1', 'loopback'],
    ['https://2130706433', '127.0.0.1', 'loopback'],
    ['https://017700000001', '127.0.0.1', 'loopback'],
    ['https://0x7f.0.0.1', '127.0.0.1', 'loopback'],
    ['https://127.0.0.1.', '127.0.0.1', 'loopback'],
    ['https://127.0.0.1/video.mp4', '127.0.0.1', 'loopback'],
    ['https://[::1]', '::1', 'loopback'],
    ['https://[::ffff:127.0.0.1]', '::ffff:7f00:1', 'ipv4Mapped'],
    ['https://[::ffff:7f00:1]', '::ffff:7f00:1', 'ipv4Mapped'],
    ['https://[0:0:0:0:0:ffff:127.0.0.1]', '::ffff:7f00:1', 'ipv4Mapped'],
    ['https://[::127.0.0.1]', '::7f00:1', 'ipv4Compatible'],
    ['https://[64:ff9b::7f00:1]', '64:ff9b::7f00:1', 'nat64'],
    ['https://[2002:7f00:1::]', '2002:7f00:1::', '6to4'],
    ['https://[2001:0:4136:e378:8000:63bf:80ff:fffe]', '2001:0:4136:e378:8000:63bf:80ff:fffe', 'teredo'],
    ['https://[::]', '::', 'unspecified'],
    ['https://0.0.0.0', '0.0.0.0', 'unspecified'],
    ['https://0', '0.0.0.0', 'unspecified'],
    ['https://10.0.0.1', '10.0.0.1', 'private'],
    ['https://0xa.0.0.1', '10.0.0.1', 'private'],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254', 'linkLocal'],
    ['https://[fd00::1]', 'fd00::1', 'uniqueLocal'],
    ['https://[FE80::1]', 'fe80::1', 'linkLocal'],
    ['https://224.0.0.1', '224.0.0.1', 'multicast'],
  ])('refuses %s as %s (%s)', (input, address, range) => {
    const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'ADDRESS_NOT_ALLOWED');
    expect(error.details).toMatchObject({ host: address, address, range });
    expect(error.message).toContain(`the URL's host ${address} is `);
  });

  it.each([
    ['https://[::ffff:127.0.0.1]', '127.0.0.1'],
    ['https://[::127.0.0.1]', '127.0.0.1'],
    ['https://[64:ff9b::7f00:1]', '127.0.0.1'],
    ['https://[2002:7f00:1::]', '127.0.0.1'],
    ['https://[2001:0:4136:e378:8000:63bf:80ff:fffe]', '127.0.0.1'],
    ['https://[::ffff:8.8.8.8]', '8.8.8.8'],
  ])('names the IPv4 address that %s embeds', (input, embeddedIPv4) => {
    const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'ADDRESS_NOT_ALLOWED');
    expect(error.details).toMatchObject({ embeddedIPv4 });
    expect(error.message).toContain(`(embedding ${embeddedIPv4})`);
  });

  it('tells the user which addresses can be imported from', () => {
    const error = expectRefusal(() => checkUrlSyntax('https://10.0.0.1', publicOnly), 'ADDRESS_NOT_ALLOWED');
    expect(error.message).toBe(
      "the URL's host 10.0.0.1 is a private address (RFC 1918): only public addresses can be imported from",
    );
  });

  it('refuses a link-local IPv6 literal with a zone id', () => {
    const error = refusalOf(() => checkUrlSyntax('https://[fe80::1%25eth0]', development));
    expect(error.code).toBe('INVALID_HTTPS_URL');
    expect(['INVALID_URL', 'ADDRESS_NOT_ALLOWED']).toContain(error.details?.['reason']);
  });

  it.each([
    ['https://8.8.8.8', '8.8.8.8'],
    ['https://1.1.1.1/video.mp4', '1.1.1.1'],
    ['https://[2606:4700:4700::1111]', '2606:4700:4700::1111'],
    ['https://[2A00:1450::1]:443', '2a00:1450::1'],
  ])('accepts the public literal %s', (input, address) => {
    expect(checkUrlSyntax(input, publicOnly)).toMatchObject({ hostname: address, literalAddress: address, port: 443 });
  });

  it.each([
    ['https://127.1', '127.0.0.1'],
    ['https://0x7f000001', '127.0.0.1'],
    ['https://2130706433', '127.0.0.1'],
    ['https://017700000001', '127.0.0.1'],
    ['https://0x7f.0.0.1', '127.0.0.1'],
    ['https://127.0.0.1.', '127.0.0.1'],
    ['https://[::1]', '::1'],
    ['https://[0:0:0:0:0:ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['https://10.1.2.3', '10.1.2.3'],
  ])('canonicalizes %s to %s when local networks are allowed', (input, address) => {
    expect(checkUrlSyntax(input, development)).toMatchObject({ hostname: address, literalAddress: address });
  });

  it.each(['https://0.0.0.0', 'https://224.0.0.1', 'https://255.255.255.255', 'https://240.0.0.1', 'https://[::]'])(
    'still refuses %s when local networks are allowed',
    (input) => {
      const error = expectRefusal(() => checkUrlSyntax(input, development), 'ADDRESS_NOT_ALLOWED');
      expect(error.message).toContain('can never be imported from');
    },
  );

  it('accepts 127.0.0.1 but refuses 127.0.0.2 and 10.0.0.1 when only 127.0.0.1/32 is listed', () => {
    const options: UrlPolicyOptions = { allowedPorts: new Set([443]), allowance: parseCidrList('127.0.0.1/32') };
    expect(checkUrlSyntax('https://127.0.0.1', options).literalAddress).toBe('127.0.0.1');
    const error = expectRefusal(() => checkUrlSyntax('https://127.0.0.2', options), 'ADDRESS_NOT_ALLOWED');
    expect(error.message).toBe(
      "the URL's host 127.0.0.2 is a loopback address: only public addresses and the configured private networks can be imported from",
    );
    expectRefusal(() => checkUrlSyntax('https://10.0.0.1', options), 'ADDRESS_NOT_ALLOWED');
  });
});

describe('checkUrlSyntax with a host name', () => {
  it('accepts https://localhost as a name, leaving the address check to resolution', () => {
    expect(checkUrlSyntax('https://localhost', publicOnly)).toMatchObject({
      hostname: 'localhost',
      port: 443,
      literalAddress: null,
    });
  });

  it('accepts an upper-case scheme and lower-cases the host', () => {
    const checked = checkUrlSyntax('HTTPS://Example.COM/Video.MP4', publicOnly);
    expect(checked.hostname).toBe('example.com');
    expect(checked.url.href).toBe('https://example.com/Video.MP4');
  });

  it('removes a trailing dot from the host name', () => {
    expect(checkUrlSyntax('https://example.com./video.mp4', publicOnly).hostname).toBe('example.com');
  });

  it('converts an internationalized host name to punycode', () => {
    expect(checkUrlSyntax('https://bücher.de/film.mp4', publicOnly).hostname).toBe('xn--bcher-kva.de');
  });

  it('removes the fragment and keeps the query', () => {
    const checked = checkUrlSyntax('https://example.com/v.mp4?token=abc#t=10', publicOnly);
    expect(checked.url.href).toBe('https://example.com/v.mp4?token=abc');
    expect(checked.url.hash).toBe('');
  });

  it.each(['https://../video.mp4', 'https://a..example.com/', 'https://1.2.3.4../'])(
    'refuses %s, whose host has an empty label',
    (input) => {
      const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'INVALID_URL');
      expect(error.message).toContain('it has an empty label between dots');
    },
  );

  it('refuses a host that is only a dot', () => {
    const error = expectRefusal(() => checkUrlSyntax('https://./video.mp4', publicOnly), 'MISSING_HOST');
    expect(error.message).toContain('the URL must name a host');
  });
});

describe('checkUrlSyntax scheme, credentials and syntax', () => {
  it.each([
    ['http://example.com/video.mp4', 'http'],
    ['ftp://example.com/video.mp4', 'ftp'],
    ['file:///etc/passwd', 'file'],
    ['ws://example.com/', 'ws'],
    ['data:text/plain,hello', 'data'],
    ['javascript:alert(1)', 'javascript'],
  ])('refuses %s because it does not use https', (input, scheme) => {
    const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'SCHEME_NOT_HTTPS');
    expect(error.details).toMatchObject({ scheme });
    expect(error.message).toBe(`the URL must use https: ${scheme}:// is not allowed`);
  });

  it.each([
    '',
    'example.com/video.mp4',
    '/video.mp4',
    'http://',
    'https://',
    'https:',
    'https://exa mple.com',
    'https://999.1.1.1',
    'https://1.2.3.4.5',
    'https://example.com:65536',
    'https://[::1',
    'https://[::ffff:0x7f.0.0.1]',
  ])('refuses %j as not a URL', (input) => {
    const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'INVALID_URL');
    expect(error.message).toContain('the URL is not a valid absolute URL');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it.each([
    'https://user:pw@example.com',
    'https://user@example.com',
    'https://:pw@example.com',
    'https://user:pw@127.0.0.1',
  ])('refuses %s because it carries credentials', (input) => {
    const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'USER_INFO_NOT_ALLOWED');
    expect(error.message).toContain('the URL must not contain a user name or password');
    expect(error.message).not.toContain('pw');
    expect(JSON.stringify(error.details)).not.toContain('pw');
  });

  it('reports the scheme before the port', () => {
    expectRefusal(() => checkUrlSyntax('http://example.com:8443', publicOnly), 'SCHEME_NOT_HTTPS');
  });
});

describe('checkUrlSyntax ports', () => {
  it.each([
    ['https://example.com', 443],
    ['https://example.com:443', 443],
    ['https://example.com:0443/v.mp4', 443],
  ])('accepts %s on port %i', (input, port) => {
    expect(checkUrlSyntax(input, publicOnly).port).toBe(port);
  });

  it.each([
    ['https://example.com:8443', 8443],
    ['https://example.com:80', 80],
    ['https://example.com:0', 0],
    ['https://example.com:65535', 65535],
  ])('refuses %s on port %i', (input, port) => {
    const error = expectRefusal(() => checkUrlSyntax(input, publicOnly), 'PORT_NOT_ALLOWED');
    expect(error.message).toBe(`port ${port} is not allowed: only port 443 can be used`);
    expect(error.details).toMatchObject({ port, allowedPorts: [443] });
  });

  it('accepts a port the options allow', () => {
    const options: UrlPolicyOptions = { allowedPorts: new Set([9000, 443, 8443]), allowance: false };
    expect(checkUrlSyntax('https://example.com:8443/v.mp4', options).port).toBe(8443);
  });

  it('lists several allowed ports in ascending order', () => {
    const options: UrlPolicyOptions = { allowedPorts: new Set([9000, 443, 8443]), allowance: false };
    const error = expectRefusal(() => checkUrlSyntax('https://example.com:8080', options), 'PORT_NOT_ALLOWED');
    expect(error.message).toBe('port 8080 is not allowed: only ports 443, 8443, 9000 can be used');
  });

  it('refuses the implicit port 443 when the options do not allow it', () => {
    const options: UrlPolicyOptions = { allowedPorts: new Set([8443]), allowance: false };
    const error = expectRefusal(() => checkUrlSyntax('https://example.com/v.mp4', options), 'PORT_NOT_ALLOWED');
    expect(error.message).toBe('port 443 is not allowed: only port 8443 can be used');
  });

  it('refuses every port when the options allow none', () => {
    const options: UrlPolicyOptions = { allowedPorts: new Set(), allowance: false };
    const error = expectRefusal(() => checkUrlSyntax('https://example.com', options), 'PORT_NOT_ALLOWED');
    expect(error.message).toBe('port 443 is not allowed: no port is allowed by this server');
  });
});

describe('checkResolvedAddresses', () => {
  const checked = checkUrlSyntax('https://files.example.com/video.mp4', publicOnly);

  it('accepts a host whose every address is public', () => {
    expect(() =>
      checkResolvedAddresses(checked, ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'], publicOnly),
    ).not.toThrow();
  });

  it('refuses a host with one private address among public ones', () => {
    const error = expectRefusal(
      () => checkResolvedAddresses(checked, ['93.184.216.34', '10.0.0.5', '8.8.8.8'], publicOnly),
      'ADDRESS_NOT_ALLOWED',
    );
    expect(error.message).toBe(
      'the host files.example.com resolves to a private address (RFC 1918): only hosts whose every address is public can be imported from',
    );
    expect(error.details).toStrictEqual({ reason: 'ADDRESS_NOT_ALLOWED', host: 'files.example.com', range: 'private' });
  });

  it.each([
    ['127.0.0.1', 'loopback', '127.0.0.1'],
    ['::1', 'loopback', '::1'],
    ['169.254.169.254', 'linkLocal', '169.254.169.254'],
    ['fd00::1', 'uniqueLocal', 'fd00::1'],
    ['0.0.0.0', 'unspecified', '0.0.0.0'],
    ['::ffff:10.1.2.3', 'ipv4Mapped', '10.1.2.3'],
    ['64:ff9b::a9fe:a9fe', 'nat64', '169.254.169.254'],
  ])('refuses a name resolving to %s as %s without revealing the address', (address, range, revealing) => {
    const error = expectRefusal(
      () => checkResolvedAddresses(checked, ['2606:4700::1', address], publicOnly),
      'ADDRESS_NOT_ALLOWED',
    );
    expect(error.details).toStrictEqual({ reason: 'ADDRESS_NOT_ALLOWED', host: 'files.example.com', range });
    expect(error.message).not.toContain(revealing);
    expect(JSON.stringify(error.details)).not.toContain(revealing);
  });

  it('refuses a host that resolved to no address', () => {
    const error = expectRefusal(() => checkResolvedAddresses(checked, [], publicOnly), 'UNRESOLVABLE_HOST');
    expect(error.message).toContain('the host files.example.com could not be resolved');
    expect(error.details).toStrictEqual({ reason: 'UNRESOLVABLE_HOST', host: 'files.example.com' });
  });

  it('names the address when the host is itself an IP literal', () => {
    const literal = checkUrlSyntax('https://127.0.0.1', development);
    const error = expectRefusal(
      () => checkResolvedAddresses(literal, ['127.0.0.1'], publicOnly),
      'ADDRESS_NOT_ALLOWED',
    );
    expect(error.message).toContain('127.0.0.1 is a loopback address');
  });

  it('accepts local addresses when local networks are allowed', () => {
    expect(() => checkResolvedAddresses(checked, ['127.0.0.1', '::1'], development)).not.toThrow();
  });

  it('refuses a multicast address when local networks are allowed', () => {
    const error = expectRefusal(
      () => checkResolvedAddresses(checked, ['127.0.0.1', '224.0.0.1'], development),
      'ADDRESS_NOT_ALLOWED',
    );
    expect(error.details).toMatchObject({ range: 'multicast' });
  });

  it('accepts only the addresses inside the listed networks', () => {
    const options: UrlPolicyOptions = { allowedPorts: new Set([443]), allowance: parseCidrList('10.0.0.0/8') };
    expect(() => checkResolvedAddresses(checked, ['10.1.2.3', '8.8.8.8'], options)).not.toThrow();
    const error = expectRefusal(
      () => checkResolvedAddresses(checked, ['10.1.2.3', '192.168.0.1'], options),
      'ADDRESS_NOT_ALLOWED',
    );
    expect(error.message).toContain('public or in the configured private networks');
  });
});
