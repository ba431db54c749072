import { describe, expect, it } from 'vitest';
import { nodeName, nodeNamer, reportHostOf } from '../src/db-node.js';

const topology = [
  { name: 'db-primary', host: '127.1.2.21' },
  { name: 'db-replica-1', host: '127.1.2.22' },
];

describe('nodeName', () => {
  it('maps a report_host to the router node with that host', () => {
    expect(nodeName('127.1.2.22', topology)).toBe('db-replica-1');
    expect(nodeName('127.1.2.21', topology)).toBe('db-primary');
  });

  it('falls back to the raw report_host when no node has it', () => {
    expect(nodeName('10.0.0.9', topology)).toBe('10.0.0.9');
  });

  it('gives nothing for a server without report_host', () => {
    expect(nodeName(null, topology)).toBeUndefined();
    expect(nodeName('', topology)).toBeUndefined();
  });
});

describe('nodeNamer', () => {
  it('names hosts like nodeName, asking the topology once per host', () => {
    let snapshots = 0;
    const nameOf = nodeNamer(() => {
      snapshots += 1;
      return topology;
    });
    expect([nameOf('127.1.2.22'), nameOf('127.1.2.22'), nameOf('10.0.0.9'), nameOf('10.0.0.9')]).toEqual([
      'db-replica-1',
      'db-replica-1',
      '10.0.0.9',
      '10.0.0.9',
    ]);
    expect(nameOf(null)).toBeUndefined();
    expect(nameOf('')).toBeUndefined();
    expect(snapshots).toBe(2);
  });
});

describe('reportHostOf', () => {
  it('reads the node column of a row', () => {
    expect(reportHostOf({ id: 1, _node: '127.1.2.22' })).toBe('127.1.2.22');
  });
});
