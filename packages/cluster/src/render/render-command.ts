// `rwsplit-cluster render --inventory hosts.json --out DIR`: every host's configuration files, units and
// firewall for a deployment on real servers, from an inventory (see inventory.ts and
// examples/hosts.example.json). Secrets are never read nor written: the output names the files to create.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterError } from '../errors.js';
import { type Inventory, InventoryError, resolveInventory } from './inventory.js';
import { renderHosts } from './render-hosts.js';
import { secretDirs, writeRendering } from './write-rendering.js';

export const RENDER_USAGE = `usage: rwsplit-cluster render --inventory hosts.json --out DIR [--force]
  Writes DIR/<host>/... for every host of the inventory: each mirrors that host's filesystem (copy it
  to / on the host). --force writes into a DIR that is not empty.`;

/** Reads and checks the inventory file; its problems name the file and the field. */
export function loadInventory(path: string): Inventory {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ClusterError(
      `cannot read the inventory ${path}: ${(error as Error).message}`,
      'CLUSTER_INVALID_OPTION',
    );
  }
  try {
    return resolveInventory(raw);
  } catch (error) {
    if (error instanceof InventoryError) {
      throw new InventoryError(error.field, `${error.message.slice(error.field.length + 2)} (in ${path})`);
    }
    throw error;
  }
}

/**
 * Runs the command with its arguments (after `render`) and returns the exit code: 0 written, 1 an
 * invalid inventory or an unwritable directory, 2 a usage error. Messages go to stderr, the summary to stdout.
 */
export async function runRenderCommand(argv: readonly string[]): Promise<number> {
  let values: { inventory?: string; out?: string; force?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        inventory: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`rwsplit-cluster render: ${(error as Error).message}\n${RENDER_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(RENDER_USAGE);
    return 0;
  }
  if (values.inventory === undefined || values.out === undefined) {
    console.error(`rwsplit-cluster render: --inventory and --out are required\n${RENDER_USAGE}`);
    return 2;
  }
  const out = resolve(values.out);
  try {
    const inventory = loadInventory(values.inventory);
    if (existsSync(out) && readdirSync(out).length > 0 && !values.force) {
      throw new ClusterError(`${out} is not empty: pass --force to write into it`, 'CLUSTER_INVALID_OPTION');
    }
    const rendering = renderHosts(inventory);
    const hosts = inventory.hosts.map((host) => host.name);
    writeRendering(out, rendering, secretDirs(hosts, inventory.cluster.secretsDir));
    console.log(`rendered ${rendering.size} files for ${hosts.length} hosts into ${out}`);
    for (const host of inventory.hosts) {
      console.log(`  ${host.name.padEnd(16)} ${host.address.padEnd(15)} ${host.roles.join(', ')}`);
    }
    console.log(`each host's secrets to create: ${out}/<host>${inventory.cluster.secretsDir}/README`);
    return 0;
  } catch (error) {
    console.error(`rwsplit-cluster render: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
