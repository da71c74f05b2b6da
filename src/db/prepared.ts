/**
 * Prepared statements for the queries of the request path. Drizzle builds a query's SQL text anew
 * on every call (about a millisecond for a three-table join on 2 cores, more than PostgreSQL takes
 * to run it); a prepared query keeps its text and its result mapping, and on PostgreSQL it is also
 * a named statement each pooled connection parses and plans once. A statement belongs to the
 * database object it was prepared on, so each is built on first use per database and kept as long
 * as that database is.
 */
import type { Database } from './database.js';

/** `prepare(db)` once per database: the returned function gives that database's statement. */
export function preparedPerDatabase<Statement>(prepare: (db: Database) => Statement): (db: Database) => Statement {
  const statements = new WeakMap<Database, Statement>();
  return (db) => {
    let statement = statements.get(db);
    if (statement === undefined) {
      statement = prepare(db);
      statements.set(db, statement);
    }
    return statement;
  };
}
