import { and, eq } from 'drizzle-orm';
import type { Database } from '../database.js';
import { serverSecrets } from '../schema.js';

/** The secret named `name`, created from `generate()` by the first process that asks. */
export async function getOrCreateSecret(db: Database, name: string, generate: () => string): Promise<string> {
  await db.insert(serverSecrets).values({ name, value: generate() }).onConflictDoNothing();
  const [row] = await db
    .select({ value: serverSecrets.value })
    .from(serverSecrets)
    .where(eq(serverSecrets.name, name))
    .limit(1);
  if (!row) throw new Error(`server secret ${name} is missing after insert`);
  return row.value;
}

/** Replaces the secret `name` when it still holds `expected` (a plaintext value being sealed). */
export async function replaceSecretValue(
  db: Database,
  name: string,
  expected: string,
  value: string,
): Promise<boolean> {
  const rows = await db
    .update(serverSecrets)
    .set({ value })
    .where(and(eq(serverSecrets.name, name), eq(serverSecrets.value, expected)))
    .returning({ name: serverSecrets.name });
  return rows.length > 0;
}
