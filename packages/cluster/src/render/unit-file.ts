// A rendered systemd unit, read back: the directives of `[Service]` that say how to start the service. The
// network lab starts each lab host's services from these (see `netns/unit-runner.ts`), so what the suites
// start is what `systemctl start` would on a real host. Pure: unit-tested on the units `render` writes.
import { ClusterError } from '../errors.js';

/** One `Exec*=` line: the program and its arguments, and whether a failure is ignored (`-` prefix). */
export interface ExecLine {
  readonly argv: readonly string[];
  readonly ignoreFailure: boolean;
}

/** What starting the service takes, as systemd reads it. */
export interface ServiceUnit {
  readonly description: string;
  readonly type: string;
  readonly execStartPre: readonly ExecLine[];
  readonly execStart: ExecLine;
  readonly execStopPost: readonly ExecLine[];
  /** `Environment=` assignments, in order (a later one wins). */
  readonly environment: Readonly<Record<string, string>>;
  /** `EnvironmentFile=` paths; `optional` for a `-` prefix (a missing file is no error). */
  readonly environmentFiles: readonly { readonly path: string; readonly optional: boolean }[];
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly dynamicUser: boolean;
  readonly workingDirectory: string | undefined;
  /** Names under /run, /var/lib and /var/log that systemd creates, owned by the service's user. */
  readonly runtimeDirectories: readonly string[];
  readonly runtimeDirectoryMode: number | undefined;
  readonly stateDirectories: readonly string[];
  readonly logsDirectories: readonly string[];
  /** `LoadCredential=id:path`: the file, copied to `$CREDENTIALS_DIRECTORY/id` for the service alone. */
  readonly credentials: readonly { readonly id: string; readonly path: string }[];
  readonly killSignal: string | undefined;
  /** `BindsTo=` of `[Unit]`: units whose end ends this one too (keepalived with HAProxy). */
  readonly bindsTo: readonly string[];
  /** `AmbientCapabilities=`: what a non-root service keeps (`CAP_NET_BIND_SERVICE` for HAProxy's port 443). */
  readonly ambientCapabilities: readonly string[];
}

function fail(unit: string, what: string): never {
  throw new ClusterError(`unit ${unit}: ${what}`, 'CLUSTER_INVALID_OPTION');
}

/**
 * Splits a command line as systemd does for `Exec*=`: words apart at blanks, double or single quotes
 * around a word with blanks in it, `\\` escapes inside double quotes.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i] ?? '';
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === ' ' || char === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new ClusterError(`unclosed ${quote} in: ${line}`, 'CLUSTER_INVALID_OPTION');
  if (inWord) words.push(word);
  return words;
}

function execLine(unit: string, value: string): ExecLine {
  // Prefixes: `-` ignores a failure; `@`, `+`, `!` change what the runner does, which these units never use.
  let rest = value.trim();
  let ignoreFailure = false;
  while (/^[-@+!:]/.test(rest)) {
    if (rest[0] !== '-') fail(unit, `the prefix ${rest[0]} of ${JSON.stringify(value)} is not supported`);
    ignoreFailure = true;
    rest = rest.slice(1);
  }
  const argv = splitCommandLine(rest);
  if (argv.length === 0) fail(unit, `an empty command line: ${JSON.stringify(value)}`);
  // systemd substitutes $NAME and ${NAME} from the environment; passing them on literally would be wrong.
  if (argv.some((word) => /\$[{A-Za-z_]/.test(word)))
    fail(unit, `environment variables in ${JSON.stringify(value)} are not supported`);
  return { argv, ignoreFailure };
}

/** `[Section]` → directive → values in order (a directive may repeat). */
function sections(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      out.set(section[1] ?? '', current);
      continue;
    }
    const cut = line.indexOf('=');
    if (current === undefined || cut < 1) continue;
    const key = line.slice(0, cut).trim();
    const values = current.get(key) ?? [];
    values.push(line.slice(cut + 1).trim());
    current.set(key, values);
  }
  return out;
}

/** `Environment=` takes several assignments per line, each quoted when it has blanks. */
function assignments(unit: string, value: string, into: Record<string, string>): void {
  for (const word of splitCommandLine(value)) {
    const cut = word.indexOf('=');
    if (cut < 1) fail(unit, `Environment= wants NAME=value, got ${JSON.stringify(word)}`);
    into[word.slice(0, cut)] = word.slice(cut + 1);
  }
}

/** Reads a rendered unit; `name` (e.g. `haproxy.service`) names it in errors. */
export function parseServiceUnit(name: string, text: string): ServiceUnit {
  const parsed = sections(text);
  const service = parsed.get('Service') ?? fail(name, 'no [Service] section');
  const all = (key: string) => service.get(key) ?? [];
  const last = (key: string) => all(key).at(-1);
  const words = (key: string) => all(key).flatMap((value) => splitCommandLine(value));
  const starts = all('ExecStart');
  if (starts.length !== 1) fail(name, `one ExecStart= expected, found ${starts.length}`);
  const environment: Record<string, string> = {};
  for (const value of all('Environment')) assignments(name, value, environment);
  const mode = last('RuntimeDirectoryMode');
  return {
    description: parsed.get('Unit')?.get('Description')?.at(-1) ?? name,
    type: last('Type') ?? 'simple',
    execStartPre: all('ExecStartPre').map((value) => execLine(name, value)),
    execStart: execLine(name, starts[0] ?? ''),
    execStopPost: all('ExecStopPost').map((value) => execLine(name, value)),
    environment,
    environmentFiles: all('EnvironmentFile').map((value) =>
      value.startsWith('-') ? { path: value.slice(1), optional: true } : { path: value, optional: false },
    ),
    user: last('User'),
    group: last('Group'),
    dynamicUser: last('DynamicUser') === 'yes',
    workingDirectory: last('WorkingDirectory'),
    runtimeDirectories: words('RuntimeDirectory'),
    runtimeDirectoryMode: mode === undefined ? undefined : Number.parseInt(mode, 8),
    stateDirectories: words('StateDirectory'),
    logsDirectories: words('LogsDirectory'),
    credentials: all('LoadCredential').map((value) => {
      const cut = value.indexOf(':');
      if (cut < 1) fail(name, `LoadCredential= wants id:path, got ${JSON.stringify(value)}`);
      return { id: value.slice(0, cut), path: value.slice(cut + 1) };
    }),
    killSignal: last('KillSignal'),
    ambientCapabilities: words('AmbientCapabilities'),
    bindsTo: (parsed.get('Unit')?.get('BindsTo') ?? []).flatMap((value) => splitCommandLine(value)),
  };
}

/** What `%` specifiers stand for in `Exec*=` lines of these units. */
export interface Specifiers {
  /** `%d`: the credentials directory. */
  readonly credentialsDirectory: string;
  /** `%t`: the runtime directory root (`/run` for a system unit). */
  readonly runtimeRoot: string;
}

/** Replaces `%d`, `%t` and `%%`; any other specifier is refused rather than passed on literally. */
export function expandSpecifiers(word: string, specifiers: Specifiers): string {
  return word.replace(/%(.)/g, (whole, letter: string) => {
    if (letter === '%') return '%';
    if (letter === 'd') return specifiers.credentialsDirectory;
    if (letter === 't') return specifiers.runtimeRoot;
    throw new ClusterError(
      `the specifier ${whole} in ${JSON.stringify(word)} is not supported`,
      'CLUSTER_INVALID_OPTION',
    );
  });
}

/** An `EnvironmentFile=`'s assignments: `NAME=value` lines, `#` comments, optional quotes around a value. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const cut = line.indexOf('=');
    if (cut < 1) continue;
    let value = line.slice(cut + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0])
      value = value.slice(1, -1);
    out[line.slice(0, cut).trim()] = value;
  }
  return out;
}
