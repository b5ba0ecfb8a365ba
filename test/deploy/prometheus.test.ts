import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { githubAnchors } from './markdown.js';

const root = new URL('../../', import.meta.url);
const rulesDir = fileURLToPath(new URL('deploy/prometheus/', root));
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[] | null;
}

const groups = (parse(read('deploy/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const TEST_FILES = ['alerts.test.yml', 'alerts.week.test.yml'];
const unitTests = TEST_FILES.flatMap((file) =>
  (parse(read(`deploy/prometheus/${file}`)) as { tests: { alert_rule_test?: RuleTest[] }[] }).tests.flatMap((test) => test.alert_rule_test ?? []),
);
const RUNBOOK_BASE = 'https://github.com/your-org/wechat-im-relay/blob/main/docs/runbook.md';

// ---- promtool -------------------------------------------------------------------------------------

const PROMTOOL_MISSING =
  "promtool is not on PATH: install Debian's prometheus package (apt-get install -y --no-install-recommends prometheus), as .ci/run does";

/** Runs promtool in deploy/prometheus; `missing` when it is not installed. */
async function promtool(...args: string[]): Promise<{ missing: true } | { missing: false; ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('promtool', args, { cwd: rulesDir, timeout: 60_000 });
    return { missing: false, ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') return { missing: true };
    return { missing: false, ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

t.test('promtool is installed', async (t) => {
  const run = await promtool('--version');
  if (run.missing) return t.fail(PROMTOOL_MISSING);
  t.ok(run.ok, `promtool --version: ${run.output}`);
});

t.test('promtool check rules: alerts.yml is valid', async (t) => {
  const run = await promtool('check', 'rules', 'alerts.yml');
  if (run.missing) return t.fail(PROMTOOL_MISSING);
  t.ok(run.ok, 'exits 0', { output: run.output });
  t.match(run.output, `SUCCESS: ${rules.length} rules found`, 'every rule was read');
});

t.test('promtool test rules: alerts.test.yml and alerts.week.test.yml pass', async (t) => {
  const run = await promtool('test', 'rules', ...TEST_FILES);
  if (run.missing) return t.fail(PROMTOOL_MISSING);
  t.ok(run.ok, 'exits 0', { output: run.output });
  t.match(run.output, /SUCCESS/);
  t.notMatch(run.output, /FAILED/);
});

// ---- the rules themselves -------------------------------------------------------------------------

t.test('one group of alerts, each with a severity, a summary, a description and its runbook section', async (t) => {
  t.same(
    groups.map((g) => g.name),
    ['wechat-im-relay'],
  );
  const alerts = rules.filter((r) => r.alert !== undefined);
  t.equal(alerts.length, rules.length, 'only alerts');
  for (const rule of alerts) {
    t.match(rule.labels?.severity, /^(page|ticket)$/, `${rule.alert}: severity page or ticket`);
    t.ok(rule.annotations?.summary, `${rule.alert}: summary`);
    t.ok(rule.annotations?.description, `${rule.alert}: description`);
    t.equal(rule.annotations?.runbook_url, `${RUNBOOK_BASE}#${rule.alert!.toLowerCase()}`, `${rule.alert}: runbook_url`);
  }
  t.equal(new Set(alerts.map((r) => r.alert)).size, alerts.length, 'each name once');
});

t.test('the unit tests show every alert firing, and some not firing', async (t) => {
  const fired = new Set(unitTests.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
  t.same(
    rules.map((r) => r.alert!).filter((name) => !fired.has(name)),
    [],
    'every alert has a case where it fires',
  );
  t.ok(
    unitTests.some((c) => (c.exp_alerts ?? []).length === 0),
    'a case where an alert does not fire',
  );
  const known = new Set(rules.map((r) => r.alert));
  t.same(
    unitTests.map((c) => c.alertname).filter((name) => !known.has(name)),
    [],
    'no case names an alert that does not exist',
  );
});

// ---- every metric used is one the relay exports ---------------------------------------------------

function tsFiles(dir: URL): URL[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = new URL(name, dir);
    if (statSync(path).isDirectory()) return tsFiles(new URL(`${name}/`, dir));
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The series the sources export: every `name: 'wxim_…'` of a prom-client metric in services/*\/src
 * and packages/*\/src; a histogram's as `_bucket`, `_sum` and `_count`, a summary's as the name,
 * `_sum` and `_count`. `documented` also holds the histograms' base names, which text may cite.
 */
function exportedMetrics(): { series: Set<string>; documented: Set<string> } {
  const series = new Set<string>();
  const documented = new Set<string>();
  for (const top of ['services/', 'packages/']) {
    for (const workspace of readdirSync(new URL(top, root))) {
      for (const file of tsFiles(new URL(`${top}${workspace}/src/`, root))) {
        const source = readFileSync(file, 'utf8');
        for (const m of source.matchAll(/\bname:\s*['"`](wxim_[A-Za-z0-9_]+)['"`]/g)) {
          const name = m[1]!;
          const kind = [...source.slice(0, m.index).matchAll(/\bnew\s+(Counter|Gauge|Histogram|Summary)\b/g)].at(-1)?.[1];
          const suffixes = kind === 'Histogram' ? ['_bucket', '_sum', '_count'] : kind === 'Summary' ? ['', '_sum', '_count'] : [''];
          for (const suffix of suffixes) series.add(name + suffix);
          documented.add(name);
        }
      }
    }
  }
  for (const name of series) documented.add(name);
  return { series, documented };
}

/** Metric names in a PromQL expression: every wxim_ name, and every name before a `{` selector. */
function metricsIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const names = [...code.matchAll(/\bwxim_[A-Za-z0-9_]+/g), ...code.matchAll(/\b([A-Za-z_:][A-Za-z0-9_:]*)\s*\{/g)].map((m) => m[1] ?? m[0]);
  return [...new Set(names)];
}

// Series Prometheus adds itself to every scrape.
const PROMETHEUS_OWN = new Set(['up']);

t.test('every metric alerts.yml uses is exported by the relay', async (t) => {
  const { series, documented } = exportedMetrics();
  t.ok(series.size > 10, `metrics found in the sources (${series.size})`);
  const missing = new Set<string>();
  for (const rule of rules) {
    for (const name of metricsIn(rule.expr)) if (!series.has(name) && !PROMETHEUS_OWN.has(name)) missing.add(`${name} (${rule.alert} expr)`);
    for (const text of Object.values(rule.annotations ?? {}))
      for (const m of text.matchAll(/\bwxim_[A-Za-z0-9_]+/g)) if (!documented.has(m[0])) missing.add(`${m[0]} (${rule.alert} annotations)`);
  }
  t.same([...missing], [], `no metric in alerts.yml that nothing in services/*/src or packages/*/src exports: ${[...missing].join(', ') || 'none'}`);
});

// ---- rendered from one source, with the settings in one place -------------------------------------

t.test('alerts.yml and the PrometheusRule are what render.mjs makes of alerts.src.yml', async (t) => {
  // Without the ALERTS_* variables an operator may set to render for a deployment of their own.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ALERTS_')));
  try {
    await promisify(execFile)(process.execPath, [`${rulesDir}render.mjs`, '--check'], { env, timeout: 30_000 });
    t.pass('npm run alerts -- --check exits 0');
  } catch (err) {
    t.fail(`run npm run alerts: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
});

t.test('the Kubernetes PrometheusRule holds exactly alerts.yml groups', async (t) => {
  const rule = parse(read('deploy/k8s/components/monitoring/prometheus-rule.yaml')) as {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: { groups: unknown };
  };
  t.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  t.equal(rule.kind, 'PrometheusRule');
  t.equal(rule.metadata.name, 'wxim-alerts');
  t.same(rule.spec.groups, groups);
});

t.test('the scrape job of each service is matched however it is named', async (t) => {
  const up = rules.find((r) => r.alert === 'WximTargetDown')!.expr;
  const regex = new RegExp(`^(?:${/job=~"([^"]+)"/.exec(up)![1]!})$`);
  for (const job of ['wechat-gateway', 'wxim-im-worker', 'wxim/im-callback', 'relay/wechat-pusher', 'dashboard', 'wechat-im-relay']) t.match(job, regex, job);
  for (const job of ['node-exporter', 'wechat-pusher-exporter', 'kube-state-metrics']) t.notMatch(job, regex, job);
});

t.test("every alert's runbook_url names a section of docs/runbook.md", async (t) => {
  const headings = githubAnchors(read('docs/runbook.md'));
  const missing = rules.map((r) => r.annotations?.runbook_url?.split('#')[1] ?? `${r.alert}: no anchor`).filter((anchor) => !headings.has(anchor));
  t.same(missing, [], `docs/runbook.md sections missing: ${missing.join(', ') || 'none'}`);
});
