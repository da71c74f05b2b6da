/**
 * A throwaway PKI for tests: a self-signed CA and a server certificate it issued, made fresh with
 * the `openssl` CLI in a temporary folder. Nothing is cached, so no test trusts a key that outlived
 * its process. EC P-256 keeps generation to a few tens of milliseconds.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Names the server certificate is valid for; tests may connect by any of them. */
export const testServerNames = {
  dns: ['localhost', 'origin.reelin.test', '*.reelin.test'],
  ip: ['127.0.0.1', '127.0.0.2', '::1'],
} as const;

export interface TestPki {
  /** Temporary folder holding every file below; removed by `cleanup()`. */
  dir: string;
  /** Self-signed CA certificate (basicConstraints CA:TRUE); trust it with `connect: { ca }`. */
  caCertPem: string;
  caCertPath: string;
  /** Leaf certificate issued by the CA for `testServerNames`, extendedKeyUsage serverAuth. */
  serverCertPem: string;
  serverKeyPem: string;
  /** Removes `dir`. Safe to call more than once. */
  cleanup(): Promise<void>;
}

// Short validity: these certificates only need to outlive one test run.
const validityDays = '3';

const subjectAltName = [
  ...testServerNames.dns.map((name) => `DNS:${name}`),
  ...testServerNames.ip.map((address) => `IP:${address}`),
].join(', ');

// Our own config instead of the system one, so the extensions do not depend on the machine's
// openssl.cnf (distributions add different defaults to `req -x509`).
const opensslConfig = `
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${subjectAltName}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** Creates a fresh CA and server certificate in a new temporary folder. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'reelin-pki-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await generate(dir);
    const [caCertPem, serverCertPem, serverKeyPem] = await Promise.all(
      ['ca.crt', 'server.crt', 'server.key'].map((name) => readFile(join(dir, name), 'utf8')),
    );
    return {
      dir,
      caCertPem: caCertPem!,
      caCertPath: join(dir, 'ca.crt'),
      serverCertPem: serverCertPem!,
      serverKeyPem: serverKeyPem!,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function generate(dir: string): Promise<void> {
  const file = (name: string) => join(dir, name);
  await writeFile(file('openssl.cnf'), opensslConfig);
  // `ecparam -genkey` (SEC1 keys) works with both OpenSSL and LibreSSL, unlike `genpkey` options.
  await Promise.all([
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key')]),
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('server.key')]),
  ]);
  await Promise.all([
    openssl([
      'req',
      '-new',
      '-x509',
      '-config',
      file('openssl.cnf'),
      '-extensions',
      'ca_ext',
      '-key',
      file('ca.key'),
      '-sha256',
      '-days',
      validityDays,
      '-subj',
      '/CN=reelin test CA',
      '-out',
      file('ca.crt'),
    ]),
    openssl([
      'req',
      '-new',
      '-config',
      file('openssl.cnf'),
      '-key',
      file('server.key'),
      '-subj',
      '/CN=localhost',
      '-out',
      file('server.csr'),
    ]),
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    // A random serial, so two runs never issue two certificates with the same issuer and serial.
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-sha256',
    '-days',
    validityDays,
    '-extfile',
    file('openssl.cnf'),
    '-extensions',
    'leaf_ext',
    '-out',
    file('server.crt'),
  ]);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`openssl ${args[0]} failed while creating the test PKI: ${stderr || String(error)}`, {
      cause: error,
    });
  }
}
