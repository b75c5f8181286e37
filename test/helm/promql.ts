/**
 * What the chart's dashboards and alerts ask Prometheus for: every PromQL expression in the
 * Grafana dashboards (panel targets, template variable queries) and in the rendered
 * PrometheusRule, and the metric names those expressions read.
 *
 * The metric-name extraction is a small lexer, not a PromQL parser (promtool checks the syntax):
 * it drops string literals, label matchers `{...}`, range and subquery brackets `[...]`, the label
 * lists of `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`, durations and numbers, and
 * Grafana's `$variables`; what remains that is an identifier not followed by `(` and not a
 * keyword is a metric name. Grafana's `label_values(metric, label)` gives its metric only.
 */

export interface Query {
  /** Where the expression comes from: "dashboards/topics.json: Bytes in by topic" or "alert BrookOfflinePartitions". */
  source: string;
  expr: string;
}

const keywords = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset',
  'atan2', 'inf', 'nan', 'start', 'end',
]);

/** Metric names an expression reads. */
export function metricNames(expr: string): string[] {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')   // string literals
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')                                 // Grafana variables
    .replace(/\{[^}]*\}/g, ' ')                                         // label matchers
    .replace(/\[[^\]]*\]/g, ' ')                                        // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  // label_values(metric, label) / label_values(label): the first identifier only, when there are two arguments.
  s = s.replace(/\blabel_values\s*\(\s*([a-zA-Z_:][\w:]*)\s*(?:,\s*[a-zA-Z_][\w]*\s*)?\)/g, (call: string, metric: string) => {
    if (call.includes(',')) names.add(metric);
    return ' ';
  });
  for (const m of s.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    const index = m.index;
    const before = s[index - 1];
    if (before !== undefined && /[\w.]/.test(before)) continue;          // inside a number such as 1e3 or 0.5
    const after = s.slice(index + word.length);
    if (/^\s*\(/.test(after)) continue;                                 // function or aggregation
    if (keywords.has(word.toLowerCase())) continue;
    if (/^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names].sort();
}

interface GrafanaTarget { expr?: string; legendFormat?: string }
interface GrafanaPanel { title?: string; targets?: GrafanaTarget[]; panels?: GrafanaPanel[] }
interface GrafanaVariable { name: string; type: string; query?: string | { query?: string }; definition?: string }
export interface GrafanaDashboard {
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating?: { list: GrafanaVariable[] };
}

/** Every PromQL expression of a dashboard: panel targets (rows' nested panels too) and query variables. */
export function dashboardQueries(file: string, d: GrafanaDashboard): Query[] {
  const out: Query[] = [];
  const walk = (panels: GrafanaPanel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ source: `${file}: ${p.title ?? '(untitled)'}`, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q) out.push({ source: `${file}: variable $${v.name}`, expr: q });
  }
  return out;
}

export interface RuleGroup { name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }

/** Every expression of a PrometheusRule's groups. */
export function ruleQueries(groups: RuleGroup[]): Query[] {
  return groups.flatMap((g) => g.rules.map((r) => ({ source: r.alert ? `alert ${r.alert}` : `record ${r.record}`, expr: String(r.expr) })));
}

/**
 * A dashboard expression as plain PromQL (for promtool): Grafana's interval variables become
 * durations, other variables a regex that matches anything, label_values() queries are skipped.
 */
export function grafanaToPromql(expr: string): string | undefined {
  if (/^\s*label_values\s*\(/.test(expr)) return undefined;
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?\w+\}?/g, '.*');
}
