// The Kubernetes manifests (deploy/k8s, with the example overlay deploy/k8s-example that adds the
// Secrets and the monitoring component), as `kubectl kustomize` renders them: every core object
// valid against the Kubernetes schemas (kubernetes-models, offline), KEDA's objects against a
// schema of our own, and the properties a deployment of the relay depends on. What the services
// are — their kind, port, shutdown time and the variables they read — is read from the sources,
// so the test stays true as they change.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import t from 'tap';
import { parse } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { type IIngress, Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { type ISecret, Secret } from 'kubernetes-models/v1/Secret';
import { type IService, Service } from 'kubernetes-models/v1/Service';
import { loadConfig } from '@wxim/config';
import { QUEUES, keyPrefix } from '@wxim/queue';
import { type K8sObject, renderBase, renderExampleOverlay, root } from './kubernetes-render.js';
const NAMESPACE = 'wxim';
const PART_OF = 'wechat-im-relay';
const IMAGE = /(^|\/)wechat-im-relay:[\w][\w.-]*$/;
/** The queue each worker takes its jobs from. */
const WORKER_QUEUES: Record<string, string> = { 'im-worker': QUEUES.wechatInbound, 'wechat-pusher': QUEUES.agentReplies };
/** What the Ingress must route, and nothing else. */
const PUBLIC_ROUTES = [
  { path: '/wechat', service: 'wechat-gateway' },
  { path: '/im/callback', service: 'im-callback' },
  { path: '/media', service: 'wechat-gateway' },
];
/** Routes of every HTTP service that must never be public. */
const INTERNAL_PATHS = ['/', '/metrics', '/healthz', '/readyz'];
/** Settings that are secrets: never in a ConfigMap. */
const SECRET_KEYS = [
  'REDIS_URL',
  'WECHAT_TOKEN',
  'WECHAT_APP_SECRET',
  'WECHAT_ENCODING_AES_KEY',
  'IM_SECRET_KEY',
  'IM_CALLBACK_TOKEN',
  'DASHBOARD_USER',
  'DASHBOARD_PASSWORD',
  'MEDIA_URL_SECRET',
];

/**
 * Which services read each secret setting (their definitions, and the clients they build: the
 * gateway verifies and decrypts pushes; im-worker, im-callback and wechat-pusher call IM; the pusher
 * calls WeChat; the dashboard signs its users in). Each service's Secret holds its keys and no other.
 */
const SECRET_READERS: Record<string, string[]> = {
  REDIS_URL: ['wechat-gateway', 'im-callback', 'im-worker', 'wechat-pusher', 'dashboard'],
  WECHAT_TOKEN: ['wechat-gateway'],
  WECHAT_ENCODING_AES_KEY: ['wechat-gateway'],
  WECHAT_APP_SECRET: ['wechat-pusher', 'im-worker'],
  IM_SECRET_KEY: ['im-worker', 'im-callback', 'wechat-pusher'],
  IM_CALLBACK_TOKEN: ['im-callback'],
  DASHBOARD_USER: ['dashboard'],
  DASHBOARD_PASSWORD: ['dashboard'],
  REDIS_SENTINEL_PASSWORD: ['wechat-gateway', 'im-callback', 'im-worker', 'wechat-pusher', 'dashboard'],
  MEDIA_URL_SECRET: ['wechat-gateway', 'im-worker'],
};

/** Secret settings a deployment may not use (Redis through Sentinel): each example lists them commented out. */
const OPTIONAL_SECRETS = new Set(['REDIS_SENTINEL_PASSWORD', 'MEDIA_URL_SECRET']);
/** …and those optional for one service only: the im-worker needs the AppSecret only to relay customers' media (MEDIA_PUBLIC_URL). */
const OPTIONAL_FOR: Record<string, string[]> = { 'im-worker': ['WECHAT_APP_SECRET'] };

// ---- what the sources say -------------------------------------------------------------------

const configDir = join(root, 'packages/config/src');
const configSource = await readFile(join(configDir, 'config.ts'), 'utf8');
/** Every variable loadConfig reads, in any of the config package's files: `raw(env, 'X')`, `port(env, 'X', …)`, `env['X']`. */
const knownVariables = new Set<string>();
for (const file of (await readdir(configDir)).filter((f) => f.endsWith('.ts'))) {
  const source = await readFile(join(configDir, file), 'utf8');
  for (const m of source.matchAll(/\benv(?:,\s*|\[)'([A-Z0-9_]+)'/g)) knownVariables.add(m[1]!);
}
/** `gateway: port(env, 'GATEWAY_PORT', 3000)` → gateway → { variable, port }. */
const portSettings = new Map(
  [...configSource.matchAll(/(\w+): port\(env, '([A-Z0-9_]+)', (\d+)\)/g)].map((m) => [m[1]!, { variable: m[2]!, port: Number(m[3]) }]),
);

/** How long a worker lets its jobs in flight finish on SIGTERM before it hands them back. */
const handBack = /shutdownTimeoutMs \?\? ([\d_]+)/.exec(await readFile(join(root, 'packages/host/src/worker-host.ts'), 'utf8'))?.[1];
if (handBack === undefined) throw new Error('packages/host/src/worker-host.ts: cannot read the hand-back timeout');
const HAND_BACK_S = Number(handBack.replaceAll('_', '')) / 1000;

interface ServiceSpec {
  name: string;
  kind: 'http' | 'worker';
  port: number;
  portVariable: string;
  shutdownS: number;
  /** The settings it cannot start without (its definition's `requires`). */
  requires: string[];
}

async function serviceSpecs(): Promise<ServiceSpec[]> {
  const specs: ServiceSpec[] = [];
  for (const name of (await readdir(join(root, 'services'))).sort()) {
    let source: string;
    try {
      source = await readFile(join(root, 'services', name, 'src/service.ts'), 'utf8');
    } catch {
      continue;
    }
    const kind = /kind: '(http|worker)'/.exec(source)?.[1];
    const portKey = /config\.ports\.(\w+)/.exec(source)?.[1];
    const shutdownMs = /shutdownMs: ([\d_]+)/.exec(source)?.[1];
    const port = portKey === undefined ? undefined : portSettings.get(portKey);
    if ((kind !== 'http' && kind !== 'worker') || port === undefined || shutdownMs === undefined)
      throw new Error(`services/${name}: cannot read its definition`);
    const requires = [...(/requires: \[([^\]]*)\]/.exec(source)?.[1] ?? '').matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]!);
    specs.push({ name, kind, port: port.port, portVariable: port.variable, shutdownS: Number(shutdownMs.replaceAll('_', '')) / 1000, requires });
  }
  return specs;
}

const services = await serviceSpecs();
const httpServices = services.filter((s) => s.kind === 'http');
const workers = services.filter((s) => s.kind === 'worker');

// ---- the rendered manifests -----------------------------------------------------------------

/** The base, as `kubectl apply -k deploy/k8s` applies it. */
const baseObjects = await renderBase();
/** The example overlay: the base, its Secrets and the monitoring component. Most checks look at this. */
const objects = await renderExampleOverlay();

const ofKind = <T>(kind: string) => objects.filter((o) => o.kind === kind) as unknown as (T & K8sObject)[];
const deployments = ofKind<IDeployment>('Deployment');
const k8sServices = ofKind<IService>('Service');
const ingresses = ofKind<IIngress>('Ingress');
const pdbs = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');
const configMaps = ofKind<IConfigMap>('ConfigMap');
const secrets = ofKind<ISecret>('Secret');

function deployment(name: string): IDeployment & K8sObject {
  const found = deployments.find((d) => d.metadata.name === name);
  if (found === undefined) throw new Error(`no Deployment ${name}`);
  return found;
}

function container(d: IDeployment): IContainer {
  const containers = d.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`Deployment ${d.metadata?.name}: expected one container, found ${containers.length}`);
  return containers[0]!;
}

function podLabels(d: IDeployment): Record<string, string> {
  return d.spec?.template.metadata?.labels ?? {};
}

/** A named or numbered port of the container, as its number. */
function containerPort(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

function secretValues(s: ISecret): Map<string, string> {
  const values = new Map(Object.entries(s.stringData ?? {}));
  for (const [k, v] of Object.entries(s.data ?? {})) values.set(k, Buffer.from(v, 'base64').toString('utf8'));
  return values;
}

/** The environment a Deployment's container gets from its ConfigMaps and Secrets. */
function environment(d: IDeployment): Map<string, { value: string; from: 'ConfigMap' | 'Secret' }> {
  const env = new Map<string, { value: string; from: 'ConfigMap' | 'Secret' }>();
  for (const source of container(d).envFrom ?? []) {
    if (source.configMapRef !== undefined) {
      const cm = configMaps.find((c) => c.metadata.name === source.configMapRef?.name);
      if (cm === undefined) throw new Error(`${d.metadata?.name}: no ConfigMap ${source.configMapRef.name}`);
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, { value: v, from: 'ConfigMap' });
    }
    if (source.secretRef !== undefined) {
      const secret = secrets.find((s) => s.metadata.name === source.secretRef?.name);
      if (secret === undefined) throw new Error(`${d.metadata?.name}: no Secret ${source.secretRef.name}`);
      for (const [k, v] of secretValues(secret)) env.set(k, { value: v, from: 'Secret' });
    }
  }
  return env;
}

// ---- KEDA: not in kubernetes-models; a schema of our own --------------------------------------

interface ScaledObject extends K8sObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string; kind?: string } }[];
  };
}

interface TriggerAuthentication extends K8sObject {
  spec: { secretTargetRef: { parameter: string; name: string; key: string }[] };
}

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' };
const kedaMetadata = {
  type: 'object',
  required: ['name'],
  properties: { name, namespace: name, labels: { type: 'object', additionalProperties: { type: 'string' } } },
};
const triggerSchema = {
  type: 'object',
  required: ['type', 'metadata'],
  additionalProperties: false,
  properties: {
    type: { enum: ['redis', 'redis-cluster'] },
    name: { type: 'string' },
    metricType: { enum: ['AverageValue', 'Value'] },
    useCachedMetrics: { type: 'boolean' },
    authenticationRef: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: { name, kind: { enum: ['TriggerAuthentication', 'ClusterTriggerAuthentication'] } },
    },
    metadata: {
      type: 'object',
      required: ['listName', 'listLength'],
      // KEDA's trigger metadata is a map of strings: an unquoted number is refused by its CRD.
      additionalProperties: { type: 'string' },
      properties: {
        listName: { type: 'string', minLength: 1 },
        listLength: { type: 'string', pattern: '^[1-9][0-9]*$' },
        activationListLength: { type: 'string', pattern: '^[0-9]+$' },
        enableTLS: { enum: ['true', 'false'] },
        databaseIndex: { type: 'string', pattern: '^[0-9]+$' },
      },
    },
  },
};
const ajv = new Ajv({ allErrors: true });
const validateScaledObject = ajv.compile<ScaledObject>({
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'keda.sh/v1alpha1' },
    kind: { const: 'ScaledObject' },
    metadata: kedaMetadata,
    spec: {
      type: 'object',
      required: ['scaleTargetRef', 'minReplicaCount', 'maxReplicaCount', 'triggers'],
      // KEDA's own fields only: a misspelt one would be silently ignored.
      additionalProperties: false,
      properties: {
        scaleTargetRef: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { apiVersion: { const: 'apps/v1' }, kind: { const: 'Deployment' }, name, envSourceContainerName: { type: 'string' } },
        },
        minReplicaCount: { type: 'integer', minimum: 1 },
        maxReplicaCount: { type: 'integer', minimum: 1 },
        pollingInterval: { type: 'integer', minimum: 1 },
        cooldownPeriod: { type: 'integer', minimum: 0 },
        initialCooldownPeriod: { type: 'integer', minimum: 0 },
        idleReplicaCount: { type: 'integer', minimum: 0 },
        // Needs the triggers' metricType AverageValue (their default); both fields are required by KEDA.
        fallback: {
          type: 'object',
          required: ['failureThreshold', 'replicas'],
          additionalProperties: false,
          properties: { failureThreshold: { type: 'integer', minimum: 1 }, replicas: { type: 'integer', minimum: 1 } },
        },
        advanced: { type: 'object' },
        triggers: { type: 'array', minItems: 1, items: triggerSchema },
      },
    },
  },
});
const validateTriggerAuthentication = ajv.compile<TriggerAuthentication>({
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'keda.sh/v1alpha1' },
    kind: { const: 'TriggerAuthentication' },
    metadata: kedaMetadata,
    spec: {
      type: 'object',
      required: ['secretTargetRef'],
      additionalProperties: false,
      properties: {
        secretTargetRef: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['parameter', 'name', 'key'],
            additionalProperties: false,
            // The redis scaler's authentication parameters.
            properties: {
              parameter: { enum: ['address', 'addresses', 'host', 'hosts', 'port', 'ports', 'username', 'password', 'tls', 'ca', 'cert', 'key'] },
              name,
              key: { type: 'string' },
            },
          },
        },
      },
    },
  },
});

// ---- the Prometheus Operator's objects (the monitoring component): a schema of our own too ------

interface PodMonitor extends K8sObject {
  spec: {
    jobLabel?: string;
    selector: { matchLabels?: Record<string, string> };
    namespaceSelector?: unknown;
    podMetricsEndpoints: { port: string; path?: string; interval?: string }[];
  };
}

interface PrometheusRule extends K8sObject {
  spec: { groups: unknown[] };
}

const validatePodMonitor = ajv.compile<PodMonitor>({
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'PodMonitor' },
    metadata: kedaMetadata,
    spec: {
      type: 'object',
      required: ['selector', 'podMetricsEndpoints'],
      additionalProperties: false,
      properties: {
        jobLabel: { type: 'string' },
        selector: {
          type: 'object',
          additionalProperties: false,
          properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } } },
        },
        namespaceSelector: { type: 'object' },
        podMetricsEndpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['port'],
            additionalProperties: false,
            properties: { port: { type: 'string' }, path: { type: 'string' }, interval: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' } },
          },
        },
      },
    },
  },
});

const validatePrometheusRule = ajv.compile<PrometheusRule>({
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'PrometheusRule' },
    metadata: kedaMetadata,
    spec: {
      type: 'object',
      required: ['groups'],
      additionalProperties: false,
      properties: { groups: { type: 'array', minItems: 1, items: { type: 'object', required: ['name', 'rules'] } } },
    },
  },
});

const scaledObjects = objects.filter((o) => o.kind === 'ScaledObject') as ScaledObject[];
const triggerAuthentications = objects.filter((o) => o.kind === 'TriggerAuthentication') as TriggerAuthentication[];

// ---- the tests ------------------------------------------------------------------------------

const MODELS: Record<string, (o: K8sObject) => { validate(): void }> = {
  'v1/ConfigMap': (o) => new ConfigMap(o),
  // kustomize folds long base64 values over lines, which the API server's decoder skips.
  'v1/Secret': (o) => {
    const data = Object.fromEntries(Object.entries((o as ISecret).data ?? {}).map(([k, v]) => [k, v.replace(/\s+/g, '')]));
    return new Secret({ ...o, data });
  },
  'v1/Service': (o) => new Service(o),
  'apps/v1/Deployment': (o) => new Deployment(o),
  'networking.k8s.io/v1/Ingress': (o) => new Ingress(o),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o),
};

t.test('every core object is valid against the Kubernetes schema; KEDA objects against ours; no other kinds', async (t) => {
  t.ok(objects.length > 0, 'kubectl kustomize rendered objects');
  for (const o of objects) {
    const key = `${o.apiVersion}/${o.kind}`;
    const model = MODELS[key];
    if (model !== undefined) t.doesNotThrow(() => model(o).validate(), `${key} ${o.metadata.name}`);
    else if (key === 'keda.sh/v1alpha1/ScaledObject') {
      t.ok(validateScaledObject(o), `ScaledObject ${o.metadata.name}`, { errors: validateScaledObject.errors });
    } else if (key === 'keda.sh/v1alpha1/TriggerAuthentication') {
      t.ok(validateTriggerAuthentication(o), `TriggerAuthentication ${o.metadata.name}`, { errors: validateTriggerAuthentication.errors });
    } else if (key === 'monitoring.coreos.com/v1/PodMonitor') {
      t.ok(validatePodMonitor(o), `PodMonitor ${o.metadata.name}`, { errors: validatePodMonitor.errors });
    } else if (key === 'monitoring.coreos.com/v1/PrometheusRule') {
      t.ok(validatePrometheusRule(o), `PrometheusRule ${o.metadata.name}`, { errors: validatePrometheusRule.errors });
    } else t.fail(`unexpected ${key} ${o.metadata.name}`);
  }
  // The validators do refuse what is wrong.
  const broken = structuredClone(deployment('wechat-gateway')) as unknown as { spec: { replicas: unknown } };
  broken.spec.replicas = 'two';
  t.throws(() => new Deployment(broken as unknown as IDeployment).validate(), 'kubernetes-models refuses a Deployment with replicas: "two"');
  const good = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 'x' },
    spec: {
      scaleTargetRef: { name: 'x' },
      minReplicaCount: 1,
      maxReplicaCount: 2,
      triggers: [{ type: 'redis', metadata: { listName: 'a:b:wait', listLength: '5' } }],
    },
  };
  t.ok(validateScaledObject(good), 'our schema takes a minimal ScaledObject');
  t.notOk(validateScaledObject({ ...good, spec: { ...good.spec, minReplicaCount: 0 } }), 'and refuses minReplicaCount 0');
  t.notOk(
    validateScaledObject({ ...good, spec: { ...good.spec, triggers: [{ type: 'redis', metadata: { listName: 'a:b:wait', listLength: 5 } }] } }),
    'and a number in trigger metadata',
  );
});

t.test('every object is in the namespace and part of the relay, pods included', async (t) => {
  t.ok(objects.length > 0);
  for (const o of objects) {
    t.equal(o.metadata.namespace, NAMESPACE, `${o.kind} ${o.metadata.name}: namespace`);
    t.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], PART_OF, `${o.kind} ${o.metadata.name}: part-of label`);
  }
  for (const d of deployments) t.equal(podLabels(d)['app.kubernetes.io/part-of'], PART_OF, `${d.metadata.name}: pods' part-of label`);
});

t.test('one Deployment per service, each the one image with its service as the argument', async (t) => {
  t.same(deployments.map((d) => d.metadata.name).sort(), services.map((s) => s.name).sort(), 'a Deployment for every services/<name>, and no other');
  t.equal(new Set(deployments.map((d) => container(d).image)).size, 1, 'every Deployment runs the same image');
  for (const s of services) {
    const c = container(deployment(s.name));
    t.match(c.image, IMAGE, `${s.name}: the wechat-im-relay image, tagged`);
    t.equal(c.command, undefined, `${s.name}: the image's ENTRYPOINT (node) is kept`);
    t.same(c.args, [`services/${s.name}/dist/main.js`], `${s.name}: args pick the service`);
  }
});

t.test('probes: liveness on /healthz and readiness on /readyz, at the service port, which is the default', async (t) => {
  t.equal(services.length, deployments.length);
  for (const s of services) {
    const c = container(deployment(s.name));
    t.same(
      c.ports?.map((p) => p.containerPort),
      [s.port],
      `${s.name}: one port, ${s.portVariable}'s default`,
    );
    t.ok(
      c.ports?.every((p) => typeof p.name === 'string' && p.name.length > 0),
      `${s.name}: the port is named`,
    );
    t.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${s.name}: liveness path`);
    t.equal(containerPort(c, c.livenessProbe?.httpGet?.port), s.port, `${s.name}: liveness port`);
    t.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${s.name}: readiness path`);
    t.equal(containerPort(c, c.readinessProbe?.httpGet?.port), s.port, `${s.name}: readiness port`);
    if (c.startupProbe !== undefined) t.equal(containerPort(c, c.startupProbe.httpGet?.port), s.port, `${s.name}: startup port`);
  }
});

t.test('resources: requests and limits of CPU and memory, limits no lower than requests', async (t) => {
  t.equal(deployments.length, services.length);
  const quantity = (q: string | number | undefined): number => {
    const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(String(q));
    if (m === null) return NaN;
    const scale = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? 1;
    return Number(m[1]) * scale;
  };
  for (const d of deployments) {
    const { requests, limits } = container(d).resources ?? {};
    for (const resource of ['cpu', 'memory']) {
      const request = quantity(requests?.[resource]);
      const limit = quantity(limits?.[resource]);
      t.ok(request > 0, `${d.metadata.name}: ${resource} request`);
      t.ok(limit >= request, `${d.metadata.name}: ${resource} limit ≥ request`);
    }
  }
});

t.test('security context: non-root as node (1000), read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', async (t) => {
  t.equal(deployments.length, services.length);
  for (const d of deployments) {
    const c = container(d);
    const sc = c.securityContext;
    t.equal(sc?.runAsNonRoot, true, `${d.metadata.name}: runAsNonRoot`);
    t.equal(sc?.runAsUser, 1000, `${d.metadata.name}: runAsUser`);
    t.equal(sc?.readOnlyRootFilesystem, true, `${d.metadata.name}: readOnlyRootFilesystem`);
    t.equal(sc?.allowPrivilegeEscalation, false, `${d.metadata.name}: allowPrivilegeEscalation`);
    t.same(sc?.capabilities?.drop, ['ALL'], `${d.metadata.name}: capabilities dropped`);
    t.equal(sc?.capabilities?.add, undefined, `${d.metadata.name}: none added`);
    t.equal(sc?.seccompProfile?.type, 'RuntimeDefault', `${d.metadata.name}: seccomp`);
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    const volume = d.spec?.template.spec?.volumes?.find((v) => v.name === tmp?.name);
    t.ok(volume?.emptyDir, `${d.metadata.name}: a writable /tmp (emptyDir)`);
    t.equal(d.spec?.template.spec?.automountServiceAccountToken, false, `${d.metadata.name}: no API token in the pod`);
  }
});

t.test('environment: the ConfigMap and Secret, no service links, the listen ports left at their defaults', async (t) => {
  t.equal(deployments.length, services.length);
  for (const s of services) {
    const d = deployment(s.name);
    const c = container(d);
    const env = environment(d);
    t.ok(
      [...env.values()].some((e) => e.from === 'ConfigMap'),
      `${s.name}: reads the ConfigMap`,
    );
    t.ok(
      [...env.values()].some((e) => e.from === 'Secret'),
      `${s.name}: reads the Secret`,
    );
    // A Service named dashboard would otherwise put DASHBOARD_PORT=tcp://… in every pod's environment.
    t.equal(d.spec?.template.spec?.enableServiceLinks, false, `${s.name}: enableServiceLinks false`);
    for (const { variable } of portSettings.values()) {
      t.notOk(env.has(variable), `${s.name}: ${variable} not set by envFrom`);
      t.notOk(
        c.env?.some((e) => e.name === variable),
        `${s.name}: ${variable} not set by env`,
      );
    }
  }
});

t.test('ConfigMap and Secret keys are variables the services read; secrets only in Secrets', async (t) => {
  t.ok(knownVariables.size >= 30, `config.ts read: ${knownVariables.size} variables`);
  t.ok(knownVariables.has('REDIS_URL') && knownVariables.has('WELCOME_TEXT'), 'both ways of reading a variable are seen');
  for (const name of ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'])
    t.ok(knownVariables.has(name), `${name}, read in a file of its own, is known`);
  t.ok(configMaps.length > 0 && secrets.length > 0);
  const used = new Set(deployments.flatMap((d) => (container(d).envFrom ?? []).map((e) => e.configMapRef?.name ?? e.secretRef?.name)));
  const envSources = [...configMaps, ...secrets].filter((o) => used.has(o.metadata.name));
  t.ok(envSources.length >= 2, 'the ConfigMap and Secret the pods read');
  for (const o of envSources) {
    const keys = o.kind === 'ConfigMap' ? Object.keys((o as IConfigMap).data ?? {}) : [...secretValues(o).keys()];
    for (const key of keys) t.ok(knownVariables.has(key), `${o.kind} ${o.metadata.name}: ${key} is read by loadConfig`);
  }
  for (const cm of configMaps) {
    const data = cm.data ?? {};
    for (const key of SECRET_KEYS) t.notOk(key in data, `ConfigMap ${cm.metadata.name}: ${key} is a secret`);
    t.equal(data['SANDBOX'], '0', 'never sandbox mode');
    // The ConfigMap alone passes the services' own checks.
    t.doesNotThrow(() => loadConfig(data), `ConfigMap ${cm.metadata.name}: valid configuration`);
  }
  // …and the example Secret's placeholders do not: services refuse to start until real values are put in.
  const env = Object.fromEntries([...environment(deployment('wechat-gateway'))].map(([k, v]) => [k, v.value]));
  t.throws(() => loadConfig(env), 'the placeholders stop start-up');
});

t.test('Secrets hold placeholders only', async (t) => {
  t.ok(secrets.length > 0);
  for (const s of secrets) {
    const values = secretValues(s);
    t.ok(values.size > 0, `Secret ${s.metadata.name} has values`);
    for (const [key, value] of values) if (key !== 'address') t.match(value, /change-me/, `Secret ${s.metadata.name}: ${key} is a placeholder`); // address: a host name, no secret
  }
});

t.test('shutdown: room for the preStop pause, the service shutdown, and the workers hand-back', async (t) => {
  t.ok(httpServices.length >= 3 && workers.length >= 2, 'http services and workers read from the sources');
  for (const s of services) {
    const spec = deployment(s.name).spec?.template.spec;
    const grace = spec?.terminationGracePeriodSeconds ?? 30;
    const preStop = container(deployment(s.name)).lifecycle?.preStop;
    const pauseS = Number(preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0] === 'sleep' ? preStop.exec.command[1] : 0));
    if (s.kind === 'http') {
      t.ok(preStop?.exec !== undefined || preStop?.sleep !== undefined, `${s.name}: a preStop`);
      t.ok(pauseS > 0, `${s.name}: the preStop pauses (${pauseS} s)`);
    } else t.ok(grace > HAND_BACK_S, `${s.name}: ${grace} s > the ${HAND_BACK_S} s hand-back`);
    t.ok(grace > pauseS + s.shutdownS, `${s.name}: ${grace} s > preStop ${pauseS} s + shutdown ${s.shutdownS} s`);
  }
});

t.test('Services: ClusterIP for each HTTP service, selecting its pods only, on its port', async (t) => {
  t.ok(httpServices.length >= 3);
  t.ok(
    httpServices.some((s) => s.name === 'dashboard'),
    'the dashboard is an HTTP service',
  );
  for (const svc of k8sServices) t.equal(svc.spec?.type ?? 'ClusterIP', 'ClusterIP', `Service ${svc.metadata.name}: not exposed outside the cluster`);
  for (const s of httpServices) {
    const svc = k8sServices.find((x) => x.metadata.name === s.name);
    t.ok(svc, `a Service ${s.name}`);
    const d = deployment(s.name);
    t.ok(selects(svc?.spec?.selector, podLabels(d)), `Service ${s.name}: selects ${s.name}'s pods`);
    for (const other of deployments.filter((x) => x !== d))
      t.notOk(selects(svc?.spec?.selector, podLabels(other)), `Service ${s.name}: not ${other.metadata.name}'s`);
    t.equal(svc?.spec?.ports?.length, 1);
    t.equal(containerPort(container(d), svc?.spec?.ports?.[0]?.targetPort), s.port, `Service ${s.name}: targets ${s.port}`);
  }
});

t.test('Ingress: exactly /wechat → wechat-gateway, /im/callback → im-callback and /media/… → wechat-gateway; nothing internal', async (t) => {
  t.equal(ingresses.length, 1, 'one Ingress');
  const ingress = ingresses[0]!;
  t.equal(ingress.spec?.defaultBackend, undefined, 'no default backend');
  t.ok((ingress.spec?.tls?.length ?? 0) > 0, 'TLS');
  const paths = (ingress.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []);
  t.same(paths.map((p) => p.path).sort(), PUBLIC_ROUTES.map((r) => r.path).sort(), 'the public paths, no others');
  const matches = (pathType: string, path: string, url: string): boolean => {
    if (pathType === 'Exact') return url === path;
    const want = path.split('/').filter(Boolean);
    return want.every((part, i) => url.split('/').filter(Boolean)[i] === part);
  };
  for (const route of PUBLIC_ROUTES) {
    const p = paths.find((x) => x.path === route.path);
    t.ok(p?.pathType === 'Exact' || p?.pathType === 'Prefix', `${route.path}: Exact or Prefix`);
    const backend = p?.backend.service;
    t.equal(backend?.name, route.service, `${route.path} → ${route.service}`);
    const svc = k8sServices.find((x) => x.metadata.name === backend?.name);
    const svcPort = svc?.spec?.ports?.find((x) => x.port === backend?.port?.number || x.name === backend?.port?.name);
    const s = services.find((x) => x.name === route.service);
    t.ok(svcPort && s, `${route.path}: the Service port exists`);
    if (svcPort && s) t.equal(containerPort(container(deployment(s.name)), svcPort.targetPort), s.port, `${route.path}: reaches ${s.name} on ${s.port}`);
  }
  for (const p of paths) {
    t.ok(
      PUBLIC_ROUTES.some((r) => r.service === p.backend.service?.name),
      `${p.path}: routes to a public service only (never the dashboard)`,
    );
    for (const internal of INTERNAL_PATHS) t.notOk(matches(p.pathType, p.path ?? '/', internal), `${p.path} does not expose ${internal}`);
  }
});

t.test('a PodDisruptionBudget selects each Deployment, and none blocks a drain', async (t) => {
  t.equal(deployments.length, services.length);
  for (const d of deployments) {
    const budgets = pdbs.filter((p) => selects(p.spec?.selector?.matchLabels, podLabels(d)));
    t.equal(budgets.length, 1, `${d.metadata.name}: one PDB`);
    const spec = budgets[0]?.spec;
    t.ok((spec?.minAvailable === undefined) !== (spec?.maxUnavailable === undefined), `${d.metadata.name}: minAvailable or maxUnavailable`);
    // With one replica (workers at KEDA's minimum, the dashboard), minAvailable 1 would forbid every eviction.
    const replicas = d.spec?.replicas ?? 1;
    if (typeof spec?.minAvailable === 'number')
      t.ok(spec.minAvailable < replicas, `${d.metadata.name}: minAvailable ${spec.minAvailable} < ${replicas} replicas`);
    if (spec?.maxUnavailable !== undefined) t.ok(spec.maxUnavailable === 1 || spec.maxUnavailable === '1', `${d.metadata.name}: maxUnavailable 1`);
  }
});

t.test('KEDA: each worker scales on its queue waiting list, from one replica', async (t) => {
  t.ok(workers.length >= 2);
  const config = configMaps[0]?.data ?? {};
  const cluster = config['REDIS_CLUSTER'] === '1';
  const prefix = keyPrefix(config['QUEUE_PREFIX'] ?? 'wxim', cluster);
  for (const so of scaledObjects)
    t.ok(
      deployments.some((d) => d.metadata.name === so.spec.scaleTargetRef.name),
      `ScaledObject ${so.metadata.name}: targets a Deployment`,
    );
  for (const w of workers) {
    const so = scaledObjects.filter((x) => x.spec.scaleTargetRef.name === w.name);
    t.equal(so.length, 1, `${w.name}: one ScaledObject`);
    const spec = so[0]?.spec;
    t.ok((spec?.minReplicaCount ?? 0) >= 1, `${w.name}: minReplicaCount ≥ 1`);
    t.ok((spec?.maxReplicaCount ?? 0) >= (spec?.minReplicaCount ?? Infinity), `${w.name}: maxReplicaCount ≥ minReplicaCount`);
    t.equal(deployment(w.name).spec?.replicas, undefined, `${w.name}: replicas left to the autoscaler`);
    t.equal(spec?.triggers.length, 1);
    const trigger = spec?.triggers[0];
    t.equal(trigger?.type, cluster ? 'redis-cluster' : 'redis', `${w.name}: the redis scaler`);
    t.equal(trigger?.metadata['listName'], `${prefix}:${WORKER_QUEUES[w.name]}:wait`, `${w.name}: its queue's waiting list`);
    const auth = triggerAuthentications.find((a) => a.metadata.name === trigger?.authenticationRef?.name);
    t.ok(auth, `${w.name}: its TriggerAuthentication exists`);
    t.ok(
      auth?.spec.secretTargetRef.some((r) => r.parameter === 'address' || r.parameter === 'addresses'),
      `${w.name}: Redis's address from a Secret`,
    );
    for (const ref of auth?.spec.secretTargetRef ?? []) {
      const secret = secrets.find((s) => s.metadata.name === ref.name);
      t.ok(secret && secretValues(secret).has(ref.key), `${w.name}: ${ref.parameter} ← Secret ${ref.name}, key ${ref.key}`);
    }
  }
});

t.test('Prometheus scrape hints on every pod: its port, /metrics', async (t) => {
  t.equal(deployments.length, services.length);
  for (const s of services) {
    const annotations = deployment(s.name).spec?.template.metadata?.annotations ?? {};
    t.equal(annotations['prometheus.io/scrape'], 'true', `${s.name}: scrape`);
    t.equal(annotations['prometheus.io/port'], String(s.port), `${s.name}: port`);
    t.equal(annotations['prometheus.io/path'], '/metrics', `${s.name}: path`);
  }
});

t.test('the base holds no Secret: applying it never overwrites the real ones', async (t) => {
  t.ok(baseObjects.length >= 20, `the base rendered (${baseObjects.length} objects)`);
  t.same(
    baseObjects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
    [],
    'no Secret in deploy/k8s',
  );
  const withoutSecrets = (list: K8sObject[]) => list.filter((o) => o.kind !== 'Secret');
  const names = (list: K8sObject[]) => list.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  const added = objects.filter((o) => !baseObjects.some((b) => b.kind === o.kind && b.metadata.name === o.metadata.name));
  t.same(
    [...new Set(added.map((o) => o.kind))].sort(),
    ['PodMonitor', 'PrometheusRule', 'Secret'],
    'the example overlay adds the Secrets and the monitoring component, nothing else',
  );
  t.same(names(withoutSecrets(baseObjects)), names(withoutSecrets(objects).filter((o) => !added.includes(o))), 'and keeps every object of the base');
});

t.test('one Secret per service, with only the keys it reads: the gateway holds no AppSecret or IM key, the dashboard only its login and Redis', async (t) => {
  t.equal(deployments.length, services.length);
  const refs = new Map<string, string>();
  for (const s of services) {
    const c = container(deployment(s.name));
    const own = (c.envFrom ?? []).flatMap((e) => (e.secretRef === undefined ? [] : [e.secretRef.name]));
    t.equal(own.length, 1, `${s.name}: one Secret`);
    t.notOk(
      c.env?.some((e) => e.valueFrom?.secretKeyRef !== undefined),
      `${s.name}: no key taken from another Secret`,
    );
    refs.set(s.name, own[0]!);
    const secret = secrets.find((x) => x.metadata.name === own[0]);
    t.ok(secret, `${s.name}: its Secret ${own[0]} exists in the example`);
    const keys = new Set(secret === undefined ? [] : secretValues(secret).keys());
    for (const key of keys) t.ok(SECRET_READERS[key]?.includes(s.name), `${s.name}'s Secret: ${key} is read by ${s.name}`);
    const example = await readFile(join(root, `deploy/k8s-example/${s.name}.env.example`), 'utf8');
    for (const [key, readers] of Object.entries(SECRET_READERS)) {
      if (!readers.includes(s.name)) continue;
      if (OPTIONAL_SECRETS.has(key) || OPTIONAL_FOR[s.name]?.includes(key))
        t.match(example, new RegExp(`^# ${key}=`, 'm'), `${s.name}'s example lists ${key}, commented out`);
      else t.ok(keys.has(key), `${s.name}'s Secret: the example lists ${key}`);
    }
    for (const setting of s.requires.filter((r) => r in SECRET_READERS))
      t.ok(SECRET_READERS[setting]!.includes(s.name), `${s.name} requires ${setting}: the table says it reads it`);
  }
  t.equal(new Set(refs.values()).size, services.length, 'no two services share a Secret');
  const keysOf = (service: string) => [...secretValues(secrets.find((x) => x.metadata.name === refs.get(service))!).keys()].sort();
  for (const key of ['WECHAT_APP_SECRET', 'IM_SECRET_KEY', 'IM_CALLBACK_TOKEN', 'DASHBOARD_PASSWORD'])
    t.notOk(keysOf('wechat-gateway').includes(key), `the internet-facing gateway does not hold ${key}`);
  t.same(keysOf('dashboard'), ['DASHBOARD_PASSWORD', 'DASHBOARD_USER', 'REDIS_URL'], 'the dashboard: its login and Redis');
});

t.test('KEDA: a fallback on each ScaledObject, for when it cannot read the queue', async (t) => {
  t.ok(workers.length >= 2);
  for (const w of workers) {
    const so = scaledObjects.find((x) => x.spec.scaleTargetRef.name === w.name);
    const fallback = (so?.spec as { fallback?: { failureThreshold: number; replicas: number } } | undefined)?.fallback;
    t.ok(fallback, `${w.name}: a fallback`);
    t.ok((fallback?.failureThreshold ?? 0) >= 1, `${w.name}: after ${fallback?.failureThreshold} failed reads`);
    t.ok(
      (fallback?.replicas ?? 0) > (so?.spec.minReplicaCount ?? Infinity) && (fallback?.replicas ?? Infinity) <= (so?.spec.maxReplicaCount ?? 0),
      `${w.name}: ${fallback?.replicas} replicas, above the minimum and within the maximum`,
    );
    // KEDA applies a fallback to AverageValue metrics only (the default for these triggers).
    for (const trigger of so?.spec.triggers ?? [])
      t.equal((trigger as { metricType?: string }).metricType ?? 'AverageValue', 'AverageValue', `${w.name}: metricType AverageValue`);
  }
});

t.test('every Deployment spreads over nodes and over zones, without refusing to schedule', async (t) => {
  t.equal(deployments.length, services.length);
  for (const d of deployments) {
    const constraints = d.spec?.template.spec?.topologySpreadConstraints ?? [];
    for (const key of ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']) {
      const c = constraints.find((x) => x.topologyKey === key);
      t.ok(c, `${d.metadata.name}: spread over ${key}`);
      t.equal(c?.whenUnsatisfiable, 'ScheduleAnyway', `${d.metadata.name}: ${key} ScheduleAnyway (one zone or one node still runs it)`);
      t.ok(selects(c?.labelSelector?.matchLabels, podLabels(d)), `${d.metadata.name}: ${key} counts its own pods`);
    }
  }
});

t.test('the monitoring component: a PodMonitor on every service’s metrics port, and the alerts as a PrometheusRule identical to alerts.yml', async (t) => {
  const component = parse(await readFile(join(root, 'deploy/k8s/components/monitoring/kustomization.yaml'), 'utf8')) as { apiVersion: string; kind: string };
  t.same([component.apiVersion, component.kind], ['kustomize.config.k8s.io/v1alpha1', 'Component'], 'a Kustomize Component');
  t.notOk(
    baseObjects.some((o) => o.apiVersion.startsWith('monitoring.coreos.com/')),
    'optional: the base holds none of its objects',
  );
  const monitors = objects.filter((o) => o.kind === 'PodMonitor') as PodMonitor[];
  t.equal(monitors.length, 1, 'one PodMonitor');
  const monitor = monitors[0]!;
  t.equal(monitor.spec.jobLabel, 'app.kubernetes.io/name', 'jobs named after the services');
  for (const s of services) {
    const d = deployment(s.name);
    t.ok(selects(monitor.spec.selector.matchLabels, podLabels(d)), `${s.name}: its pods are selected`);
    const endpoint = monitor.spec.podMetricsEndpoints.find((e) => containerPort(container(d), e.port) === s.port);
    t.ok(endpoint, `${s.name}: scraped on its port ${s.port}, by name`);
    t.equal(endpoint?.path ?? '/metrics', '/metrics', `${s.name}: /metrics`);
  }
  const rules = objects.filter((o) => o.kind === 'PrometheusRule') as PrometheusRule[];
  t.same(
    rules.map((r) => r.metadata.name),
    ['wxim-alerts'],
  );
  const alerts = parse(await readFile(join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: unknown[] };
  t.same(rules[0]?.spec.groups, alerts.groups, 'the same groups and rules as deploy/prometheus/alerts.yml');
});

t.test("the pusher's memory limit is the measured peak (bench:pusher-memory) with its margin, at least", async (t) => {
  const manifest = await readFile(join(root, 'deploy/k8s/wechat-pusher.yaml'), 'utf8');
  const recorded = /# pusher-memory: peak (\d+) MiB, margin ([\d.]+)/.exec(manifest);
  t.ok(recorded, 'wechat-pusher.yaml records the measured peak and the margin');
  const [peakMiB, margin] = [Number(recorded?.[1]), Number(recorded?.[2])];
  t.ok(margin >= 1.25, `a margin of at least a quarter (${margin})`);
  const limit = String(container(deployment('wechat-pusher')).resources?.limits?.['memory']);
  const m = /^(\d+)(Mi|Gi)$/.exec(limit);
  const limitMiB = Number(m?.[1]) * (m?.[2] === 'Gi' ? 1024 : 1);
  t.ok(limitMiB >= peakMiB * margin, `limit ${limit} ≥ ${peakMiB} MiB × ${margin}`);
});
