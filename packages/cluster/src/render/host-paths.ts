// Where things live on a real host that the inventory does not let an operator move: Debian's places,
// which the distribution's packages (and the units rendered beside them) already use.
import type { DbFlavor, Inventory } from './inventory.js';

export const HAPROXY_SOCKET = '/run/haproxy/admin.sock';
export const KEEPALIVED_NOTIFY = '/etc/keepalived/rwsplit-notify.sh';

export const NGINX = {
  user: 'www-data',
  pidFile: '/run/nginx.pid',
  errorLog: '/var/log/nginx/error.log',
  accessLog: '/var/log/nginx/access.log',
  tempDir: '/var/lib/nginx',
} as const;

/** The database unit's RuntimeDirectory=, LogsDirectory= and StateDirectory= create these. */
export const DATABASE = {
  socket: '/run/mysqld/mysqld.sock',
  pidFile: '/run/mysqld/mysqld.pid',
  errorLog: '/var/log/mysql/error.log',
  tmpDir: '/var/lib/mysql-tmp',
  filesDir: '/var/lib/mysql-files',
} as const;

export const DATABASE_UNIT: Readonly<Record<DbFlavor, string>> = {
  mariadb: 'mariadb.service',
  mysql: 'mysql.service',
};

export function failoverPublicConfigPath(inventory: Inventory): string {
  return `${inventory.paths.failoverDir}/manager.json`;
}

export function failoverAssemblerPath(inventory: Inventory): string {
  return `${inventory.paths.failoverDir}/assemble-config.mjs`;
}
