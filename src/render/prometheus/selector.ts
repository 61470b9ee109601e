// The series the rules and the dashboard read: serve's own /metrics, scraped under one job name.

/** The scrape job docs/metrics.md configures; every rule and panel selects it. */
export const JOB = 'cluster-endpoint';

/** `name{job="cluster-endpoint",k="v",k=~"re"}`: `labels` match exactly, `patterns` as regular expressions. */
export function series(name: string, labels: Record<string, string> = {}, patterns: Record<string, string> = {}): string {
  const parts = [
    `job="${JOB}"`,
    ...Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
    ...Object.entries(patterns).map(([k, v]) => `${k}=~${JSON.stringify(v)}`),
  ];
  return `${name}{${parts.join(',')}}`;
}
