/**
 * The manager's metrics in the Prometheus text format (version 0.0.4), served on its HTTP API. A
 * handful of families, set by the manager as it decides; no client library needed for that.
 */

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly samples: Map<string, { labels: Labels; value: number }>;
}

function labelText(labels: Labels): string {
  // Sorted: the same labels in another order are the same series.
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '';
  const quote = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${entries.map(([key, value]) => `${key}="${quote(value)}"`).join(',')}}`;
}

function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  /** Declares a family; a counter's name ends in `_total`. */
  define(name: string, type: 'counter' | 'gauge', help: string): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`not a metric name: ${name}`);
    if (type === 'counter' && !name.endsWith('_total'))
      throw new Error(`a counter's name ends in _total: ${name}`);
    this.families.set(name, { type, help, samples: new Map() });
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.family(name).samples.set(labelText(labels), { labels, value });
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const family = this.family(name);
    const key = labelText(labels);
    family.samples.set(key, { labels, value: (family.samples.get(key)?.value ?? 0) + by });
  }

  /** Forgets a gauge's samples (e.g. the previous primary's `1`) before setting the current ones. */
  reset(name: string): void {
    this.family(name).samples.clear();
  }

  value(name: string, labels: Labels = {}): number | undefined {
    return this.family(name).samples.get(labelText(labels))?.value;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      const help = family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${family.type}`);
      for (const [key, { value }] of family.samples) lines.push(`${name}${key} ${sampleValue(value)}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private family(name: string): Family {
    const family = this.families.get(name);
    if (family === undefined) throw new Error(`metric ${name} is not defined`);
    return family;
  }
}
