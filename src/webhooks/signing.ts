/**
 * Signing webhook deliveries, and protecting the signing keys at rest.
 *
 * - Pixop scheme: ECDSA P-256 with SHA-256 over the bytes `<timestamp>.<raw body>`, the DER
 *   signature in base64, with the key id and Unix-seconds timestamp in headers. Receivers verify
 *   with the public key served at GET /v1/webhooks/public-keys/{id}.
 * - Standard Webhooks scheme (when the webhook has a secret): `v1,<base64 HMAC-SHA256>` over
 *   `<msg id>.<timestamp>.<raw body>`, keyed with the base64-decoded part of `whsec_<base64>`.
 * - Private keys are stored as PKCS#8 DER sealed with AES-256-GCM under the key-encryption key
 *   (domain/secret-box.ts, which also seals S3 import credentials), and so are Standard Webhooks
 *   secrets.
 */
import { createHash, createHmac, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { openSecret, sealSecret } from '../domain/secret-box.js';

export const SIGNATURE_ALGORITHM = 'SHA256withECDSA';

export interface GeneratedSigningKey {
  /** Base64 DER SubjectPublicKeyInfo. */
  publicKey: string;
  privateKeyDer: Buffer;
}

export function generateSigningKey(): GeneratedSigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKeyDer: privateKey.export({ type: 'pkcs8', format: 'der' }),
  };
}

/** Names a key-encryption key without revealing it: the first 16 hex digits of its SHA-256. */
export function keyEncryptionKeyId(kek: Buffer): string {
  return createHash('sha256').update(kek).digest('hex').slice(0, 16);
}

export function encryptPrivateKey(privateKeyDer: Buffer, kek: Buffer): string {
  return sealSecret(privateKeyDer, kek);
}

/** Decrypts and parses a stored private key; throws when the key-encryption key is not the one it was encrypted under. */
export function decryptPrivateKey(stored: string, kek: Buffer): KeyObject {
  return createPrivateKey({ key: openSecret(stored, kek), format: 'der', type: 'pkcs8' });
}

export function sealWebhookSecret(secret: string, kek: Buffer): string {
  return sealSecret(Buffer.from(secret, 'utf8'), kek);
}

/** A webhook's Standard Webhooks secret in the clear, for signing a delivery. */
export function openWebhookSecret(sealed: string, kek: Buffer): string {
  try {
    return openSecret(sealed, kek).toString('utf8');
  } catch (error) {
    throw new Error(
      'a webhook secret cannot be decrypted: REELIN_WEBHOOK_KEY_ENCRYPTION_KEY is not the key it was stored under',
      { cause: error },
    );
  }
}

export interface SigningKey {
  id: string;
  privateKey: KeyObject;
}

/** The headers that sign one request body. */
export function signatureHeaders(input: {
  key: SigningKey;
  body: string;
  timestampSeconds: number;
  messageId: string;
  secret: string | null;
}): Record<string, string> {
  const timestamp = String(input.timestampSeconds);
  const signature = sign('sha256', Buffer.from(`${timestamp}.${input.body}`, 'utf8'), {
    key: input.key.privateKey,
    dsaEncoding: 'der',
  });
  const headers: Record<string, string> = {
    'x-pixop-signature': signature.toString('base64'),
    'x-pixop-public-key-id': input.key.id,
    'x-pixop-timestamp': timestamp,
    'x-pixop-algorithm': SIGNATURE_ALGORITHM,
  };
  if (input.secret !== null) {
    headers['webhook-id'] = input.messageId;
    headers['webhook-timestamp'] = timestamp;
    headers['webhook-signature'] = standardWebhooksSignature(input.secret, input.messageId, timestamp, input.body);
  }
  return headers;
}

export function standardWebhooksSignature(secret: string, messageId: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`, 'utf8').digest('base64')}`;
}
