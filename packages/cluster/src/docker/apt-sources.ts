import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One apt source as either file format states it (one-line `.list` entries become one source each). */
export interface AptSource {
  /** `deb`, `deb-src`. */
  readonly types: readonly string[];
  readonly uris: readonly string[];
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

/** The Debian archives the base image is bootstrapped from and updated against. */
export interface DebianMirrors {
  /** Serves `<codename>` and `<codename>-updates`: `http://deb.debian.org/debian`. */
  readonly mirror: string;
  /** Serves `<codename>-security`: `http://deb.debian.org/debian-security`. */
  readonly securityMirror: string;
}

export const DEFAULT_MIRRORS: DebianMirrors = {
  mirror: 'http://deb.debian.org/debian',
  securityMirror: 'http://deb.debian.org/debian-security',
};

/**
 * Parses one-line sources (`sources.list`, `*.list`): `deb [arch=amd64 signed-by=...] URI SUITE COMP...`.
 * Comments and lines that are not `deb`/`deb-src` entries are skipped; never throws.
 */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const match = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)$/.exec(line);
    if (!match) continue;
    const [, type, uri, suite, components] = match;
    if (type === undefined || uri === undefined || suite === undefined) continue;
    sources.push({
      types: [type],
      uris: [uri],
      suites: [suite],
      components: (components ?? '').trim().split(/\s+/).filter(Boolean),
    });
  }
  return sources;
}

/**
 * Parses deb822 sources (`*.sources`): blank-line separated stanzas of `Field: value` lines, with
 * continuation lines starting with whitespace. Stanzas with `Enabled: no` or without Types, URIs and
 * Suites are skipped; never throws.
 */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/^\s/.test(line) && last !== undefined) {
        fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
        continue;
      }
      const match = /^([\w-]+):\s*(.*)$/.exec(line);
      if (!match?.[1]) continue;
      last = match[1].toLowerCase();
      fields.set(last, match[2] ?? '');
    }
    const list = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean);
    if (fields.get('enabled')?.trim().toLowerCase() === 'no') continue;
    const source = {
      types: list('types'),
      uris: list('uris'),
      suites: list('suites'),
      components: list('components'),
    };
    if (source.types.length > 0 && source.uris.length > 0 && source.suites.length > 0) sources.push(source);
  }
  return sources;
}

function servesSuite(source: AptSource, suite: string): boolean {
  return source.types.includes('deb') && source.suites.includes(suite) && source.components.includes('main');
}

// What debootstrap and apt inside an image can fetch from (not cdrom:, not a file: path of this machine).
function fetchable(uri: string): boolean {
  return /^https?:\/\//.test(uri);
}

/**
 * The mirrors this machine's apt uses for `codename` (the first http(s) source serving `<codename> main`,
 * and likewise `<codename>-security`), each falling back to deb.debian.org when the machine has none.
 */
export function debianMirrors(sources: readonly AptSource[], codename: string): DebianMirrors {
  const find = (suite: string) =>
    sources
      .filter((source) => servesSuite(source, suite))
      .flatMap((source) => source.uris.filter(fetchable))[0];
  return {
    mirror: trimSlash(find(codename) ?? DEFAULT_MIRRORS.mirror),
    securityMirror: trimSlash(find(`${codename}-security`) ?? DEFAULT_MIRRORS.securityMirror),
  };
}

function trimSlash(uri: string): string {
  return uri.replace(/\/+$/, '');
}

/**
 * The base image's apt sources (deb822): the release, its updates and its security suite, so that a
 * package installed in an image has the version the host got from the same suites (mariadbd in the
 * container must be the version whose mariadb-install-db initialised the data directory on the host).
 */
export function renderImageSources(mirrors: DebianMirrors, codename: string): string {
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  return [
    'Types: deb',
    `URIs: ${mirrors.mirror}`,
    `Suites: ${codename} ${codename}-updates`,
    'Components: main',
    `Signed-By: ${keyring}`,
    '',
    'Types: deb',
    `URIs: ${mirrors.securityMirror}`,
    `Suites: ${codename}-security`,
    'Components: main',
    `Signed-By: ${keyring}`,
    '',
  ].join('\n');
}

/** `VERSION_CODENAME` (and `ID`) of an os-release text; undefined fields when absent. */
export function parseOsRelease(text: string): { readonly id?: string; readonly codename?: string } {
  const value = (name: string) => {
    const match = new RegExp(`^${name}=(.*)$`, 'm').exec(text);
    return match?.[1]?.trim().replace(/^["']|["']$/g, '') || undefined;
  };
  const id = value('ID');
  const codename = value('VERSION_CODENAME');
  return { ...(id === undefined ? {} : { id }), ...(codename === undefined ? {} : { codename }) };
}

/** Every apt source of this machine: /etc/apt/sources.list, then sources.list.d's `.list` and `.sources`. */
export function readHostAptSources(etcApt = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  sources.push(...parseOneLineSources(read(join(etcApt, 'sources.list'))));
  let entries: string[] = [];
  try {
    entries = readdirSync(join(etcApt, 'sources.list.d')).sort();
  } catch {
    // no directory
  }
  for (const entry of entries) {
    const path = join(etcApt, 'sources.list.d', entry);
    if (entry.endsWith('.list')) sources.push(...parseOneLineSources(read(path)));
    else if (entry.endsWith('.sources')) sources.push(...parseDeb822Sources(read(path)));
  }
  return sources;
}
