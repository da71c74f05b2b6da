import { eq } from 'drizzle-orm';
import type { Database } from '../database.js';
import { serverSecrets } from '../schema.js';

/** The secret named `name`, created from `generate()` by the first process that asks. */
export async function getOrCreateSecret(db: Database, name: string, generate: () => string): Promise<string> {
  await db.insert(serverSecrets).values({ name, value: generate() }).onConflictDoNothing();
  const [row] = await db.select({ value: serverSecrets.value }).from(serverSecrets).where(eq(serverSecrets.name, name)).limit(1);
  if (!row) throw new Error(`server secret ${name} is missing after insert`);
  return row.value;
}
