// The seed topology as a Docker Compose project: one more rendering target of the same templates. The
// services' configs are rendered here with container paths and service names; compose.yml mounts them
// read-only. Both database flavours are rendered (config/mysql, config/mariadb); compose.yml picks one
// with RWSPLIT_DB_FLAVOR. Passwords are compose variables (${VAR:?}) and TLS files compose secrets: no
// secret is ever rendered.
import { renderTemplateText } from '../templates.js';
import { type DbFlavor, DEFAULT_ACCOUNTS } from './inventory.js';
import type { RenderedFile, Rendering } from './render-hosts.js';
import { databaseConfig, haproxyConfig, nginxConfig } from './service-configs.js';

/** The seed's fixed facts: two servers, a primary and a replica, the notes app. */
const SEED = {
  database: 'notes',
  appPort: 3000,
  nginxPort: 8080,
  nginxStatusPort: 8081,
  dbPort: 3306,
  lb: { httpPort: 8080, httpsPort: 8443, statsPort: 8404 },
  staticDir: '/srv/notes-app/public',
  internalPaths: ['/metrics', '/internal/status', '/internal/alerts'],
  readyPath: '/readyz',
  semiSyncTimeoutMs: 1_000,
  servers: ['server-1', 'server-2'],
  nodes: [
    { service: 'db-primary', role: 'primary', serverId: 1 },
    { service: 'db-replica', role: 'replica', serverId: 2 },
  ],
} as const;

const SECRETS = '/run/secrets';
const ENV = {
  app: 'RWSPLIT_APP_PASSWORD',
  monitor: 'RWSPLIT_MONITOR_PASSWORD',
  replication: 'RWSPLIT_REPLICATION_PASSWORD',
} as const;

/** What differs between the flavours besides my.cnf: dialect statements and clients, as data. */
interface FlavorFacts {
  readonly name: string;
  readonly templates: string;
  /** Forgets the binlog and GTID state of the first start. */
  readonly resetBinlog: string;
  readonly client: string;
  readonly tlsOption: string;
  /** MariaDB logs to stderr as asked; MySQL would add `.err` to /dev/stderr, so it keeps a file. */
  readonly errorLog: string;
}

const FLAVORS: Readonly<Record<DbFlavor, FlavorFacts>> = {
  mysql: {
    name: 'MySQL 8.4',
    templates: 'mysql',
    // RESET MASTER is gone in 8.4.
    resetBinlog: 'RESET BINARY LOGS AND GTIDS',
    client: 'mysql',
    tlsOption: '--ssl-mode=REQUIRED',
    errorLog: '/var/lib/mysql/error.log',
  },
  mariadb: {
    name: 'MariaDB 10.11',
    templates: 'mariadb',
    resetBinlog: 'RESET MASTER',
    client: 'mariadb',
    // MariaDB 10.11's client does not use TLS unless asked.
    tlsOption: '--ssl',
    errorLog: '/dev/stderr',
  },
};

const shellRef = (name: string) => `\${${name}}`;

function file(content: string): RenderedFile {
  return { content, mode: 0o644 };
}

/** A heredoc body: backticks (SQL's quoted names) would be command substitutions in the shell. */
function forHeredoc(sql: string): string {
  return sql.replaceAll('\\', '\\\\').replaceAll('`', '\\`').trimEnd();
}

function primarySql(flavor: FlavorFacts): string {
  const everywhere = [{ host: '%' }];
  const accounts = DEFAULT_ACCOUNTS;
  return renderTemplateText(`${flavor.templates}/init-primary.sql.tmpl`, {
    appDatabase: SEED.database,
    // root (MYSQL_ROOT_PASSWORD) is the admin; no failover managers in the seed.
    adminHosts: [],
    adminUser: '',
    adminPassword: '',
    failoverHosts: [],
    failoverUser: '',
    failoverPassword: '',
    appHosts: everywhere,
    appUser: accounts.app,
    appPassword: shellRef(ENV.app),
    monitorHosts: everywhere,
    monitorUser: accounts.monitor,
    monitorPassword: shellRef(ENV.monitor),
    replicationHosts: everywhere,
    replicationUser: accounts.replication,
    replicationPassword: shellRef(ENV.replication),
    exporterUser: accounts.exporter,
    // No exporter in the seed: the account exists with a password nobody knows until you set one.
    exporterPassword: '$(od -An -N18 -tx1 /dev/urandom | tr -dc 0-9a-f)',
  });
}

function replicaSql(flavor: FlavorFacts, primary: string): string {
  return renderTemplateText(`${flavor.templates}/follow-primary.sql.tmpl`, {
    primaryHost: primary,
    primaryPort: SEED.dbPort,
    replicationUser: DEFAULT_ACCOUNTS.replication,
    replicationPassword: shellRef(ENV.replication),
    caFile: `${SECRETS}/ca`,
  });
}

function renderFlavor(out: Map<string, RenderedFile>, flavor: DbFlavor): void {
  const facts = FLAVORS[flavor];
  const primary = SEED.nodes[0].service;
  for (const node of SEED.nodes) {
    const dir = `config/${flavor}/${node.service}`;
    const replica = node.role === 'replica';
    out.set(
      `${dir}/my.cnf`,
      file(
        databaseConfig(flavor, {
          datadir: '/var/lib/mysql',
          tmpDir: '/var/lib/mysql-tmp',
          socket: '/run/mysqld/mysqld.sock',
          pidFile: '/run/mysqld/mysqld.pid',
          errorLog: facts.errorLog,
          filesDir: '/var/lib/mysql-files',
          // Its own service name: it binds the container's address on the database network and is
          // what the certificate names.
          host: node.service,
          port: SEED.dbPort,
          serverId: node.serverId,
          readOnly: replica,
          semiSyncTimeoutMs: SEED.semiSyncTimeoutMs,
          managed: false,
          tls: {
            ca: `${SECRETS}/ca`,
            certificate: `${SECRETS}/${node.service}-certificate`,
            key: `${SECRETS}/${node.service}-key`,
          },
        }),
      ),
    );
    const sqlTemplate = `${facts.templates}/${replica ? 'follow-primary' : 'init-primary'}.sql.tmpl`;
    out.set(
      `${dir}/initdb/10-rwsplit.sh`,
      file(
        renderTemplateText('docker/initdb.sh.tmpl', {
          nodeName: node.service,
          flavorName: facts.name,
          flavor,
          purpose: replica
            ? `replicate from ${primary} (GTID)`
            : 'the database and the accounts, which replicate',
          sqlTemplate,
          secretNames: (replica ? [ENV.replication] : [ENV.app, ENV.monitor, ENV.replication]).join(' '),
          resetBinlog: facts.resetBinlog,
          sql: forHeredoc(replica ? replicaSql(facts, primary) : primarySql(facts)),
          startReplica: replica,
        }),
      ),
    );
  }
  out.set(
    `config/${flavor}/healthcheck.sh`,
    file(
      renderTemplateText('docker/healthcheck.sh.tmpl', {
        flavorName: facts.name,
        client: facts.client,
        tlsOption: facts.tlsOption,
      }),
    ),
  );
}

function appEnvironment(server: string): { name: string; value: string }[] {
  const [primary, replica] = SEED.nodes;
  const env: Record<string, string> = {
    HOST: '0.0.0.0',
    PORT: String(SEED.appPort),
    SERVER_NAME: server,
    DB_PRIMARY: `${primary.service}:${SEED.dbPort}`,
    DB_REPLICAS: `${replica.service}:${SEED.dbPort}`,
    DB_NAME: SEED.database,
    DB_USER: DEFAULT_ACCOUNTS.app,
    DB_MONITOR_USER: DEFAULT_ACCOUNTS.monitor,
    DB_SSL_CA_FILE: `${SECRETS}/ca`,
  };
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** docker/'s generated files, by path under docker/. Pure: the same every time. */
export function renderCompose(): Rendering {
  const out = new Map<string, RenderedFile>();
  const servers = SEED.servers.map((name, index) => ({
    name,
    app: `app-${index + 1}`,
    nginx: `nginx-${index + 1}`,
  }));
  out.set(
    'config/haproxy/haproxy.cfg',
    file(
      haproxyConfig({
        runtimeSocket: '/var/lib/haproxy/admin.sock',
        publicBind: '',
        internalBind: '',
        // HAProxy's own environment reference, filled in by compose (RWSPLIT_PUBLIC_NAME, the HTTPS port).
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's and HAProxy's own ${VAR} syntax, not a template
        publicAuthority: '"${RWSPLIT_PUBLIC_AUTHORITY}"',
        ...SEED.lb,
        certificate: `${SECRETS}/lb-certificate`,
        balance: 'roundrobin',
        mode: 'active-active',
        statsUser: DEFAULT_ACCOUNTS.stats,
        backends: servers.map((server) => ({ name: server.name, host: server.nginx, port: SEED.nginxPort })),
      }),
    ),
  );
  for (const server of servers) {
    out.set(
      `config/${server.name}/nginx.conf`,
      file(
        nginxConfig({
          userDirective: 'user nginx;',
          pidFile: '/var/run/nginx.pid',
          errorLog: '/dev/stderr',
          accessLog: '/dev/stdout',
          tempDir: '/var/cache/nginx',
          listen: '0.0.0.0',
          port: SEED.nginxPort,
          statusPort: SEED.nginxStatusPort,
          appHost: server.app,
          appPort: SEED.appPort,
          serverName: server.name,
          staticDir: SEED.staticDir,
          internalPaths: SEED.internalPaths,
        }),
      ),
    );
  }
  for (const flavor of ['mysql', 'mariadb'] as const) renderFlavor(out, flavor);
  const nodes = SEED.nodes.map((node) => ({
    service: node.service,
    primary: node.role === 'primary',
    replica: node.role === 'replica',
    healthRole: node.role,
    primaryService: SEED.nodes[0].service,
  }));
  out.set(
    'compose.yml',
    file(
      renderTemplateText('docker/compose.yml.tmpl', {
        dbs: nodes,
        servers: servers.map((server) => ({
          ...server,
          environment: appEnvironment(server.name),
          dbServices: nodes.map((node) => ({ service: node.service })),
          appPort: SEED.appPort,
          readyPath: SEED.readyPath,
          staticDir: SEED.staticDir,
          statusPort: SEED.nginxStatusPort,
        })),
        ...SEED.lb,
      }),
    ),
  );
  return out;
}
