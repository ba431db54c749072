// One function per service configuration, shared by every rendering target (real hosts, compose): each
// builds the scope of the service's template from typed input, so the targets differ only in values.
import type { Balance, LbMode } from '../options.js';
import { renderTemplateText } from '../templates.js';
import type { DbFlavor } from './inventory.js';

/** The environment variable HAProxy reads the stats password from: the config holds only this name. */
export const STATS_PASSWORD_ENV = 'RWSPLIT_STATS_PASSWORD';

export interface HaproxyInput {
  readonly runtimeSocket: string;
  /** Address the public listeners bind ('' for every address). */
  readonly publicBind: string;
  /** Address of the stats and metrics listener ('' for every address). */
  readonly internalBind: string;
  /** `host[:port]` the HTTP listener redirects to; or an HAProxy `"${VAR}"` reference. */
  readonly publicAuthority: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly statsPort: number;
  /** Certificate and key, one PEM. */
  readonly certificate: string;
  readonly balance: Balance;
  readonly mode: LbMode;
  readonly statsUser: string;
  readonly backends: readonly { readonly name: string; readonly host: string; readonly port: number }[];
}

/** `http://host:port` when the port is not the scheme's own. */
export function authority(host: string, port: number, defaultPort: number): string {
  return port === defaultPort ? host : `${host}:${port}`;
}

export function haproxyConfig(input: HaproxyInput): string {
  return renderTemplateText('haproxy/haproxy.cfg.tmpl', {
    runtimeSocket: input.runtimeSocket,
    lbHost: input.publicBind,
    internalHost: input.internalBind,
    publicAuthority: input.publicAuthority,
    httpPort: input.httpPort,
    httpsPort: input.httpsPort,
    statsPort: input.statsPort,
    certificate: input.certificate,
    balance: input.balance,
    statsUser: input.statsUser,
    // HAProxy expands "${VAR}" in double quotes (also inside a word): the password comes from the
    // service's environment (a unit's EnvironmentFile=, compose's environment), never from this file.
    statsPassword: `"\${${STATS_PASSWORD_ENV}}"`,
    statsPasswordEnv: STATS_PASSWORD_ENV,
    servers: input.backends.map((backend, index) => ({
      name: backend.name,
      host: backend.host,
      port: backend.port,
      backupFlag: input.mode === 'active-passive' && index > 0 ? ' backup' : '',
    })),
  });
}

export interface NginxInput {
  /** `user www-data;` or ''. */
  readonly userDirective: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly accessLog: string;
  readonly tempDir: string;
  readonly listen: string;
  readonly port: number;
  readonly statusPort: number;
  readonly appHost: string;
  readonly appPort: number;
  readonly serverName: string;
  readonly staticDir: string | undefined;
  readonly internalPaths: readonly string[];
}

export function nginxConfig(input: NginxInput): string {
  return renderTemplateText('nginx/nginx.conf.tmpl', {
    userDirective: input.userDirective,
    pidFile: input.pidFile,
    errorLog: input.errorLog,
    accessLog: input.accessLog,
    tempDir: input.tempDir,
    host: input.listen,
    port: input.port,
    statusPort: input.statusPort,
    appHost: input.appHost,
    appPort: input.appPort,
    serverName: input.serverName,
    staticDir: input.staticDir ?? '',
    hasStatic: input.staticDir !== undefined,
    internalPaths: input.internalPaths.map((path) => ({ path })),
  });
}

export interface DatabaseInput {
  readonly datadir: string;
  readonly tmpDir: string;
  readonly socket: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly filesDir: string;
  /** Bound and reported: an address, or a name the host resolves to its own address. */
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
  readonly readOnly: boolean;
  readonly semiSyncTimeoutMs: number | undefined;
  /** Failover managers own the roles: every node starts read-only (see the templates). */
  readonly managed: boolean;
  readonly tls: { readonly ca: string; readonly certificate: string; readonly key: string };
}

/** Each flavour's my.cnf, with the same values: MariaDB's and MySQL 8.4's option names differ. */
export const DATABASE_TEMPLATE: Readonly<Record<DbFlavor, string>> = {
  mariadb: 'mariadb/node.cnf.tmpl',
  mysql: 'mysql/node.cnf.tmpl',
};

export function databaseConfig(flavor: DbFlavor, input: DatabaseInput): string {
  return renderTemplateText(DATABASE_TEMPLATE[flavor], {
    datadir: input.datadir,
    tmpDir: input.tmpDir,
    socket: input.socket,
    pidFile: input.pidFile,
    errorLog: input.errorLog,
    host: input.host,
    port: input.port,
    serverId: input.serverId,
    readOnly: input.readOnly ? 'ON' : 'OFF',
    semiSync: input.semiSyncTimeoutMs !== undefined,
    semiSyncTimeoutMs: input.semiSyncTimeoutMs ?? 0,
    managed: input.managed,
    filesDir: input.filesDir,
    caFile: input.tls.ca,
    certificateFile: input.tls.certificate,
    keyFile: input.tls.key,
  });
}

export interface KeepalivedInput {
  readonly hostName: string;
  readonly self: string;
  readonly peers: readonly string[];
  readonly floating: string;
  readonly prefixLength: number;
  readonly interface: string;
  readonly routerId: number;
  readonly priority: number;
  readonly notifyScript: string;
}

export function keepalivedConfig(input: KeepalivedInput): string {
  return renderTemplateText('keepalived/keepalived.conf.tmpl', {
    hostName: input.hostName,
    floating: input.floating,
    prefixLength: input.prefixLength,
    interface: input.interface,
    routerId: input.routerId,
    priority: input.priority,
    self: input.self,
    peers: input.peers.map((address) => ({ address })),
    notifyScript: input.notifyScript,
  });
}

export function keepalivedNotifyScript(hostName: string, stateFile: string): string {
  return renderTemplateText('keepalived/notify.sh.tmpl', { hostName, stateFile });
}
