import { SqliteAdapter, sql, type Kysely } from 'kysely';

// PostgreSQL only (issue 13): a transaction of one session whose chain head a node knows is sent as ONE
// autocommit statement (PgTx.commitAsOneStatement), saving the BEGIN and COMMIT round trips. Such a
// statement must write all or nothing: when the chain head moved, or its work did not all apply, it calls
// this function, whose error aborts the statement (SQLSTATE WRD01) and the node runs the usual transaction.
// A function, because SQL has no raise of its own, and a constant error in a CASE branch may be raised
// while the statement is planned.
const isSqlite = (db: Kysely<unknown>) => db.getExecutor().adapter instanceof SqliteAdapter;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) return;
  await sql`CREATE OR REPLACE FUNCTION warden_abort(reason text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'WRD01', MESSAGE = reason;
    END
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) return;
  await sql`DROP FUNCTION IF EXISTS warden_abort(text)`.execute(db);
}
