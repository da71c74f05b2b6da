import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKey,
  keyEncryptionKeyId,
  signatureHeaders,
} from '../../src/webhooks/signing.js';

describe('webhook signing', () => {
  const generated = generateSigningKey();
  const kek = randomBytes(32);
  const key = {
    id: '3f1c7c51-5f0c-4bb4-9d37-8d1b0d3d1e11',
    privateKey: decryptPrivateKey(encryptPrivateKey(generated.privateKeyDer, kek), kek),
  };
  const body = JSON.stringify({ id: 'a4c1d2e3-0000-4000-8000-000000000001', eventType: 'video_in.done' });
  const publicKey = createPublicKey({ key: Buffer.from(generated.publicKey, 'base64'), format: 'der', type: 'spki' });

  it('signs <timestamp>.<body> with ECDSA P-256 that node:crypto verifies with the SPKI public key', () => {
    const headers = signatureHeaders({ key, body, timestampSeconds: 1_767_000_000, messageId: 'msg', secret: null });
    expect(headers['x-pixop-algorithm']).toBe('SHA256withECDSA');
    expect(headers['x-pixop-public-key-id']).toBe(key.id);
    expect(headers['x-pixop-timestamp']).toBe('1767000000');
    expect(headers['webhook-signature']).toBeUndefined();
    const signature = Buffer.from(headers['x-pixop-signature'] ?? '', 'base64');
    expect(signature[0]).toBe(0x30);
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(verify('sha256', Buffer.from(`1767000000.${body}`), { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(
      true,
    );
    expect(verify('sha256', Buffer.from(`1767000001.${body}`), { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(
      false,
    );
    expect(
      verify('sha256', Buffer.from(`1767000000.${body} `), { key: publicKey, dsaEncoding: 'der' }, signature),
    ).toBe(false);
  });

  it('adds Standard Webhooks headers that the standardwebhooks package verifies when there is a secret', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const now = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders({ key, body, timestampSeconds: now, messageId: 'msg_1', secret });
    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toBe(String(now));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
  });

  it('encrypts private keys so that only the same key-encryption key opens them', () => {
    const stored = encryptPrivateKey(generated.privateKeyDer, kek);
    expect(stored.startsWith('v1.')).toBe(true);
    expect(stored).not.toContain(generated.privateKeyDer.toString('base64'));
    expect(encryptPrivateKey(generated.privateKeyDer, kek)).not.toBe(stored);
    expect(() => decryptPrivateKey(stored, randomBytes(32))).toThrow();
    const tampered = `${stored.slice(0, -4)}AAA=`;
    expect(() => decryptPrivateKey(tampered, kek)).toThrow();
    expect(keyEncryptionKeyId(kek)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('names a key-encryption key by the first 16 hex digits of its SHA-256 (known answers)', () => {
    // Stored with every signing key: a change here makes every stored key unreadable after an upgrade.
    expect(keyEncryptionKeyId(Buffer.alloc(32, 0))).toBe('66687aadf862bd77');
    expect(keyEncryptionKeyId(Buffer.from(Array.from({ length: 32 }, (_, index) => index)))).toBe('630dcd2966c43366');
  });
});
