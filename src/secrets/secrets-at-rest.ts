/**
 * Secrets the service keeps in its database, sealed (AES-256-GCM) under the key-encryption key,
 * as the webhook signing keys and S3 key pairs are: webhooks' Standard Webhooks secrets and the key
 * that signs download links. A copy of the database alone reveals none of them.
 *
 * Versions before this stored those two in plaintext. Every process seals what it finds at start,
 * each row with a conditional update, so processes starting together neither lose a secret nor
 * seal one twice; the values stay the same, so existing signatures and links keep verifying.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { getOrCreateSecret, replaceSecretValue } from '../db/queries/secrets.queries.js';
import { listPlaintextWebhookSecrets, replacePlaintextWebhookSecret } from '../db/queries/webhooks.queries.js';
import { isSealedSecret, openSecret, sealSecret } from '../domain/secret-box.js';
import { sealWebhookSecret } from '../webhooks/signing.js';

const DOWNLOAD_LINK_KEY_NAME = 'download-link-key';

/** Seals the webhook secrets an earlier version stored in plaintext; returns how many this process sealed. */
export async function sealPlaintextWebhookSecrets(db: Database, kek: Buffer): Promise<number> {
  let sealed = 0;
  for (const row of await listPlaintextWebhookSecrets(db)) {
    if (await replacePlaintextWebhookSecret(db, row.id, row.secret, sealWebhookSecret(row.secret, kek))) sealed += 1;
  }
  return sealed;
}

/**
 * The download-link signing key (32 random bytes), created sealed by the first process that asks;
 * a plaintext key of an earlier version is sealed in place (`sealedNow`) and keeps its value.
 */
export async function loadDownloadLinkKey(db: Database, kek: Buffer): Promise<{ key: Buffer; sealedNow: boolean }> {
  const stored = await getOrCreateSecret(db, DOWNLOAD_LINK_KEY_NAME, () => sealSecret(randomBytes(32), kek));
  if (isSealedSecret(stored)) {
    try {
      return { key: openSecret(stored, kek), sealedNow: false };
    } catch (error) {
      throw new Error(
        'the download-link signing key cannot be decrypted: set REELIN_WEBHOOK_KEY_ENCRYPTION_KEY to the key it was stored under',
        { cause: error },
      );
    }
  }
  const key = Buffer.from(stored, 'base64');
  const sealedNow = await replaceSecretValue(db, DOWNLOAD_LINK_KEY_NAME, stored, sealSecret(key, kek));
  return { key, sealedNow };
}
