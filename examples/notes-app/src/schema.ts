import type { Router } from '@rwsplit/router';

// CREATE TABLE IF NOT EXISTS is atomic in the server's data dictionary, so both app servers may run
// it at once: one creates the table, the other gets a warning.
const CREATE_NOTES = `CREATE TABLE IF NOT EXISTS notes (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`;

/** Creates the schema on the primary (DDL always routes there). Idempotent. */
export async function migrate(db: Router): Promise<void> {
  await db.execute(CREATE_NOTES);
}
