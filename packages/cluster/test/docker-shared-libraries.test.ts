import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseDpkgSearch, parseLdd, sharedLibraryPackages } from '../src/docker/shared-libraries.js';

describe('parseLdd', () => {
  it('takes resolved libraries and the loader, skips the vDSO, and reports what is not found', () => {
    const text = `	linux-vdso.so.1 (0x00007ffd0a7f2000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f8531fd9000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f8531c00000)
	libmissing.so.1 => not found
	/lib64/ld-linux-x86-64.so.2 (0x00007f8531ff2000)
`;
    expect(parseLdd(text)).toEqual({
      libraries: [
        '/lib/x86_64-linux-gnu/libdl.so.2',
        '/lib/x86_64-linux-gnu/libstdc++.so.6',
        '/lib64/ld-linux-x86-64.so.2',
      ],
      missing: ['libmissing.so.1'],
    });
  });
});

describe('parseDpkgSearch', () => {
  it('maps each path to its first owner without the architecture, skipping diversions', () => {
    const text = `libc6:amd64: /lib/x86_64-linux-gnu/libdl.so.2
diversion by dash from: /bin/sh
libfoo1:amd64, libfoo1:i386: /usr/lib/libfoo.so.1
libgcc-s1:amd64: /lib/x86_64-linux-gnu/libgcc_s.so.1
`;
    expect([...parseDpkgSearch(text)]).toEqual([
      ['/lib/x86_64-linux-gnu/libdl.so.2', 'libc6'],
      ['/usr/lib/libfoo.so.1', 'libfoo1'],
      ['/lib/x86_64-linux-gnu/libgcc_s.so.1', 'libgcc-s1'],
    ]);
  });
});

const onDpkg = spawnSync('dpkg', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!onDpkg)('sharedLibraryPackages', () => {
  it("names the Debian packages of this Node binary's libraries (glibc's among them)", () => {
    const packages = sharedLibraryPackages(process.execPath);
    if (spawnSync('ldd', [process.execPath], { stdio: 'ignore' }).status !== 0) {
      expect(packages).toEqual([]); // a static build
      return;
    }
    expect(packages).toContain('libc6');
    expect(packages).toEqual([...packages].sort());
  });
});
