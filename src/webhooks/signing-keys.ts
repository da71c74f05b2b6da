/**
 * The ring of webhook signing keys: created on first start, rotated by `reelin rotate-webhook-keys`
 * or when the active key reaches the configured age. A rotation gives the active key an
 * `expiresAt` (the overlap period, during which it stays listed for receivers) and makes a new one
 * active; keys are created and rotated under one advisory lock, so processes starting or rotating
 * together agree on one active key.
 */
import type { Database } from '../db/database.js';
import {
  deleteExpiredSigningKeys,
  expireActiveSigningKeys,
  findActiveSigningKey,
  insertSigningKey,
  lockSigningKeys,
  type SigningKeyRow,
} from '../db/queries/webhook-keys.queries.js';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKey,
  keyEncryptionKeyId,
  type SigningKey,
} from './signing.js';

/** How long a process signs with a key it loaded before checking for a newer one. */
const CACHE_MS = 30_000;

export class SigningKeyRing {
  private cached: { key: SigningKey; loadedAtMs: number } | null = null;
  private readonly kekId: string;

  constructor(private readonly deps: { db: Database; kek: Buffer; now?: () => Date }) {
    this.kekId = keyEncryptionKeyId(deps.kek);
  }

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }

  /** Creates the first key if there is none, and checks the active one can be decrypted. */
  async ensureActiveKey(): Promise<SigningKeyRow> {
    const row = await this.deps.db.transaction(async (tx) => {
      await lockSigningKeys(tx);
      return (await findActiveSigningKey(tx)) ?? this.insertNewKey(tx);
    });
    this.cached = { key: this.unlock(row), loadedAtMs: this.now().getTime() };
    return row;
  }

  /** Makes a new active key; the previous one stays valid and listed for `overlapMs`. */
  async rotate(overlapMs: number): Promise<SigningKeyRow> {
    const row = await this.deps.db.transaction(async (tx) => {
      await lockSigningKeys(tx);
      await expireActiveSigningKeys(tx, new Date(this.now().getTime() + overlapMs));
      return this.insertNewKey(tx);
    });
    this.cached = { key: this.unlock(row), loadedAtMs: this.now().getTime() };
    return row;
  }

  /** Rotates when the active key is at least `intervalMs` old (0: never); drops long-expired keys. */
  async rotateIfDue(intervalMs: number, overlapMs: number): Promise<boolean> {
    await deleteExpiredSigningKeys(this.deps.db, this.now());
    if (intervalMs === 0) return false;
    const rotated = await this.deps.db.transaction(async (tx) => {
      await lockSigningKeys(tx);
      const active = await findActiveSigningKey(tx);
      if (active !== null && this.now().getTime() - active.createdAt.getTime() < intervalMs) return null;
      await expireActiveSigningKeys(tx, new Date(this.now().getTime() + overlapMs));
      return this.insertNewKey(tx);
    });
    if (rotated === null) return false;
    this.cached = { key: this.unlock(rotated), loadedAtMs: this.now().getTime() };
    return true;
  }

  /** The key to sign with now (cached for a short while; a rotation elsewhere is seen within CACHE_MS). */
  async current(): Promise<SigningKey> {
    if (this.cached !== null && this.now().getTime() - this.cached.loadedAtMs < CACHE_MS) return this.cached.key;
    const row = (await findActiveSigningKey(this.deps.db)) ?? (await this.ensureActiveKey());
    // Decrypting is only needed when the active key changed (a rotation); else the check is renewed.
    const key = this.cached !== null && this.cached.key.id === row.id ? this.cached.key : this.unlock(row);
    this.cached = { key, loadedAtMs: this.now().getTime() };
    return key;
  }

  private async insertNewKey(tx: Database): Promise<SigningKeyRow> {
    const generated = generateSigningKey();
    return insertSigningKey(tx, {
      publicKey: generated.publicKey,
      encryptedPrivateKey: encryptPrivateKey(generated.privateKeyDer, this.deps.kek),
      encryptionKeyId: this.kekId,
    });
  }

  private unlock(row: SigningKeyRow): SigningKey {
    if (row.encryptionKeyId !== this.kekId) {
      throw new Error(
        `the webhook signing key ${row.id} was encrypted under another key-encryption key (id ${row.encryptionKeyId}, this process has ${this.kekId}): set REELIN_WEBHOOK_KEY_ENCRYPTION_KEY to the key used before`,
      );
    }
    return { id: row.id, privateKey: decryptPrivateKey(row.encryptedPrivateKey, this.deps.kek) };
  }
}
