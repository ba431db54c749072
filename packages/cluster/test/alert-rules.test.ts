import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEMPLATE_DIR } from '../src/templates.js';

const RULES_DIR = join(TEMPLATE_DIR, 'prometheus/rules');
const RULES = join(RULES_DIR, 'rwsplit-alerts.yml');
const TESTS = join(RULES_DIR, 'rwsplit-alerts.test.yml');
const work = mkdtempSync(join(tmpdir(), 'rwsplit-rules-'));

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** promtool is a process of its own: on a loaded CI host its start alone has taken 5 s. */
const PROMTOOL_TIMEOUT_MS = 30_000;

const alertNames = (text: string) => [...text.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);

describe('alert rules (templates/prometheus/rules)', { timeout: PROMTOOL_TIMEOUT_MS }, () => {
  it('pass promtool check rules', async () => {
    const result = await promtool('check', 'rules', RULES);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their unit tests (promtool test rules), which cover every alert', async () => {
    const result = await promtool('test', 'rules', TESTS);
    expect(result.code, result.output).toBe(0);
    const tested = new Set([...readFileSync(TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(alertNames(readFileSync(RULES, 'utf8')).filter((name) => !tested.has(name))).toEqual([]);
  });

  it('give every alert a severity, a summary, and the production `for:` beside a test one', () => {
    const text = readFileSync(RULES, 'utf8');
    const blocks = text.split(/^\s+- alert: /m).slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(18);
    for (const block of blocks) {
      const name = block.split('\n')[0];
      expect(block, name).toMatch(/severity: (critical|warning)/);
      expect(block, name).toMatch(/summary: "/);
      const wait = /^\s+for: (\S+)(.*)$/m.exec(block);
      expect(wait, name).not.toBeNull();
      if (wait?.[1] !== '0s') expect(wait?.[2], name).toMatch(/# prod: \d+[smh]/);
    }
  });

  it('fail their unit tests when a rule is broken (the tests can fail)', async () => {
    copyFileSync(TESTS, join(work, 'rwsplit-alerts.test.yml'));
    const broken = readFileSync(RULES, 'utf8').replace(
      'haproxy_server_status{proxy="app", state="UP"} == 0',
      'haproxy_server_status{proxy="app", state="DOWN"} == 1',
    );
    expect(broken).not.toBe(readFileSync(RULES, 'utf8'));
    writeFileSync(join(work, 'rwsplit-alerts.yml'), broken);
    const result = await promtool('test', 'rules', join(work, 'rwsplit-alerts.test.yml'));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('alertname: RwsplitAppServerDown');
  });
});
