/**
 * Secrets at rest: AES-256-GCM under the service's key-encryption key (the one that also protects
 * the webhook signing keys). A sealed secret is `v1.<iv>.<tag>.<ciphertext>`, each part base64; the
 * GCM tag makes a wrong key or an altered value fail to open instead of giving garbage.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export function sealSecret(plaintext: Buffer, kek: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join('.');
}

/** Whether a stored value is a sealed secret (an older version stored some secrets in plaintext). */
export function isSealedSecret(stored: string): boolean {
  return /^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]*$/.test(stored);
}

/** Opens a sealed secret; throws when it is malformed or was sealed under another key. */
export function openSecret(sealed: string, kek: Buffer): Buffer {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== 'v1' || iv === undefined || tag === undefined || ciphertext === undefined)
    throw new Error('the sealed secret has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]);
}
