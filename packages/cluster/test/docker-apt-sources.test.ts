import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MIRRORS,
  debianMirrors,
  parseDeb822Sources,
  parseOneLineSources,
  parseOsRelease,
  renderImageSources,
} from '../src/docker/apt-sources.js';

// This machine's own file (Debian 12's default since bookworm): two stanzas, comments between fields.
const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('parseDeb822Sources', () => {
  it('reads every stanza, skipping comment lines inside one', () => {
    expect(parseDeb822Sources(DEBIAN_SOURCES)).toEqual([
      {
        types: ['deb'],
        uris: ['http://deb.debian.org/debian'],
        suites: ['bookworm', 'bookworm-updates'],
        components: ['main'],
      },
      {
        types: ['deb'],
        uris: ['http://deb.debian.org/debian-security'],
        suites: ['bookworm-security'],
        components: ['main'],
      },
    ]);
  });

  it('skips disabled stanzas and joins continuation lines', () => {
    const text = `Types: deb
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://ftp.de.debian.org/debian
Suites: bookworm
Components: main
 contrib
`;
    expect(parseDeb822Sources(text)).toEqual([
      {
        types: ['deb', 'deb-src'],
        uris: ['http://ftp.de.debian.org/debian'],
        suites: ['bookworm'],
        components: ['main', 'contrib'],
      },
    ]);
  });
});

describe('parseOneLineSources', () => {
  it('reads entries with options and trailing comments, and ignores everything else', () => {
    const text = `# deb http://old.example/debian buster main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://ftp.fr.debian.org/debian/ bookworm main contrib # fr
deb-src http://ftp.fr.debian.org/debian bookworm main
garbage line
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
`;
    expect(parseOneLineSources(text)).toEqual([
      {
        types: ['deb'],
        uris: ['http://ftp.fr.debian.org/debian/'],
        suites: ['bookworm'],
        components: ['main', 'contrib'],
      },
      {
        types: ['deb-src'],
        uris: ['http://ftp.fr.debian.org/debian'],
        suites: ['bookworm'],
        components: ['main'],
      },
      {
        types: ['deb'],
        uris: ['https://packages.cloud.google.com/apt'],
        suites: ['cloud-sdk-bookworm'],
        components: ['main'],
      },
    ]);
  });
});

describe('debianMirrors', () => {
  it("takes this machine's mirrors for the release and its security suite", () => {
    expect(debianMirrors(parseDeb822Sources(DEBIAN_SOURCES), 'bookworm')).toEqual({
      mirror: 'http://deb.debian.org/debian',
      securityMirror: 'http://deb.debian.org/debian-security',
    });
  });

  it('prefers the first fetchable source serving main, without its trailing slash', () => {
    const sources = parseOneLineSources(`deb cdrom:[Debian 12]/ bookworm main
deb file:/srv/mirror bookworm main
deb http://ftp.fr.debian.org/debian/ bookworm main
deb http://security.debian.org/debian-security bookworm-security main
`);
    expect(debianMirrors(sources, 'bookworm')).toEqual({
      mirror: 'http://ftp.fr.debian.org/debian',
      securityMirror: 'http://security.debian.org/debian-security',
    });
  });

  it('falls back to deb.debian.org when no source serves the release', () => {
    const sources = parseOneLineSources(
      'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n',
    );
    expect(debianMirrors(sources, 'bookworm')).toEqual(DEFAULT_MIRRORS);
  });
});

describe('renderImageSources', () => {
  it('lists the release, its updates and its security suite, signed by the archive keyring', () => {
    const text = renderImageSources(
      { mirror: 'http://m/debian', securityMirror: 'http://m/debian-security' },
      'bookworm',
    );
    expect(parseDeb822Sources(text)).toEqual([
      {
        types: ['deb'],
        uris: ['http://m/debian'],
        suites: ['bookworm', 'bookworm-updates'],
        components: ['main'],
      },
      {
        types: ['deb'],
        uris: ['http://m/debian-security'],
        suites: ['bookworm-security'],
        components: ['main'],
      },
    ]);
    expect(text).toContain('Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg');
  });
});

describe('parseOsRelease', () => {
  it('reads ID and VERSION_CODENAME, quoted or not', () => {
    expect(
      parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'),
    ).toEqual({
      id: 'debian',
      codename: 'bookworm',
    });
    expect(parseOsRelease('ID="ubuntu"\n')).toEqual({ id: 'ubuntu' });
    expect(parseOsRelease('')).toEqual({});
  });
});
