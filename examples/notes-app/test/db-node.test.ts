import { describe, expect, it } from 'vitest';
import { nodeName, takeNode } from '../src/db-node.js';

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

describe('takeNode', () => {
  it('removes the node column from the row', () => {
    const row: Record<string, unknown> = { id: 1, _node: '127.1.2.22' };
    expect(takeNode(row)).toBe('127.1.2.22');
    expect(row).toEqual({ id: 1 });
  });
});
