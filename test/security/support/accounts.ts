/** One row of `mysql.global_priv`, as the checks below read it. */
export interface AccountRow {
  readonly user: string;
  readonly host: string;
  /** `Priv`: its JSON text, or already parsed (mysql2 parses a JSON-checked column). */
  readonly priv: string | object;
}

function privOf(row: AccountRow): Priv {
  return (typeof row.priv === 'string' ? JSON.parse(row.priv) : row.priv) as Priv;
}

interface Priv {
  plugin?: string;
  authentication_string?: string;
  auth_or?: { plugin?: string; authentication_string?: string }[];
  account_locked?: boolean;
  ssl_type?: number;
  is_role?: boolean;
}

/**
 * How the account can be entered: each of its authentication methods. With several (`IDENTIFIED VIA a OR
 * b`), MariaDB lists them in `auth_or`, where an empty entry stands for the one kept at the top level.
 */
function methods(priv: Priv): { plugin: string; secret: string }[] {
  const top = { plugin: priv.plugin, authentication_string: priv.authentication_string };
  const all = priv.auth_or?.map((m) => (m.plugin === undefined ? top : m)) ?? [top];
  return all.map((m) => ({
    plugin: m.plugin ?? 'mysql_native_password',
    secret: m.authentication_string ?? '',
  }));
}

/**
 * Accounts a client can enter without any secret: a password method with an empty password. unix_socket
 * is not one (the server checks the connecting process's login), a locked account or a role is no way in,
 * and MariaDB's `invalid` hash matches no password at all.
 */
export function openAccounts(rows: readonly AccountRow[]): string[] {
  const open: string[] = [];
  for (const row of rows) {
    const priv = privOf(row);
    if (priv.account_locked || priv.is_role || row.user === '') {
      if (row.user === '' && !priv.account_locked) open.push(`''@'${row.host}' (anonymous)`);
      continue;
    }
    const passwordless = methods(priv).some((m) => m.plugin !== 'unix_socket' && m.secret === '');
    if (passwordless) open.push(`'${row.user}'@'${row.host}'`);
  }
  return open;
}

/** Accounts reachable over TCP (any host but `localhost`) that do not require TLS. */
export function plainTextAccounts(rows: readonly AccountRow[]): string[] {
  return rows
    .filter((row) => row.host !== 'localhost')
    .filter((row) => !(privOf(row).ssl_type ?? 0))
    .map((row) => `'${row.user}'@'${row.host}'`);
}

/** Accounts whose host is a pattern (`%`, `127.%`) rather than an address or `localhost`. */
export function wildcardAccounts(rows: readonly AccountRow[]): string[] {
  return rows.filter((row) => /[%_]/.test(row.host)).map((row) => `'${row.user}'@'${row.host}'`);
}
