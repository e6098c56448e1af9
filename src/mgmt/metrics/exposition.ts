/** One sample of a metric family: its labels and value. */
export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export type MetricType = "gauge" | "counter" | "untyped";

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: a
 * "# TYPE" and "# HELP" line per family, as rabbitmq_prometheus writes them,
 * then one line per sample.
 */
export class Exposition {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, type: MetricType, help: string, samples: readonly Sample[]): this {
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.seen.add(name);
    this.lines.push(`# TYPE ${name} ${type}`, `# HELP ${name} ${help}`);
    for (const s of samples) {
      const labels = s.labels
        ? Object.entries(s.labels)
            .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
            .join(",")
        : "";
      this.lines.push(`${name}${labels ? `{${labels}}` : ""} ${formatValue(s.value)}`);
    }
    return this;
  }

  /** A family with one unlabelled sample. */
  single(name: string, type: MetricType, help: string, value: number): this {
    return this.family(name, type, help, [{ value }]);
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/** The content type Prometheus expects for the text format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
