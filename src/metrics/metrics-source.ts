// Where GET /metrics and the dashboard read metrics from: one process's prom-client Registry satisfies this as is;
// the cluster primary's aggregate (cluster-metrics.ts) implements it too. Also parses the Prometheus text format.

export interface MetricSample {
  value: number;
  labels: Partial<Record<string, string | number>>;
  /** Histograms: `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  metricName?: string;
}

export interface MetricFamily {
  name: string;
  /** 'counter', 'gauge', 'histogram'… (prom-client's typings call it a numeric enum; at run time it is this string). */
  type: string | number;
  values: MetricSample[];
}

export interface MetricsSource {
  /** The Content-Type of `metrics()`: Prometheus text format 0.0.4. */
  readonly contentType: string;
  /** Every metric in the Prometheus text format. */
  metrics(): Promise<string>;
  /** Every metric as values, for the dashboard. */
  getMetricsAsJSON(): Promise<MetricFamily[]>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;

/**
 * The families of a Prometheus text exposition, shaped like prom-client's getMetricsAsJSON (histogram samples carry
 * their `metricName`; `le` stays a string). Lines it cannot read are skipped: the text comes from prom-client.
 */
export function parsePrometheusText(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const familyOf = (sampleName: string): MetricFamily => {
    const existing = families.get(sampleName);
    if (existing) return existing;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!sampleName.endsWith(suffix)) continue;
      const base = families.get(sampleName.slice(0, -suffix.length));
      if (base && (base.type === 'histogram' || base.type === 'summary')) return base;
    }
    const family = { name: sampleName, type: 'untyped', values: [] };
    families.set(sampleName, family);
    return family;
  };

  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = line.split(' ').slice(1);
      if (name && type) families.set(name, { ...(families.get(name) ?? { name, values: [] }), type });
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const [, sampleName, labelText, valueText] = match;
    const labels: Record<string, string> = {};
    if (labelText) {
      LABEL.lastIndex = 0;
      let label: RegExpExecArray | null;
      while ((label = LABEL.exec(labelText)) !== null) {
        labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
    }
    const family = familyOf(sampleName!);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    family.values.push(family.name === sampleName ? { value, labels } : { value, labels, metricName: sampleName! });
  }
  return [...families.values()];
}
