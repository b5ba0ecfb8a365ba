// The NetworkPolicies of deploy/k8s, as rendered, evaluated as Kubernetes defines them: a pod that
// some policy of its namespace selects for a direction takes only what one of their rules allows
// (from or to a peer by pod and namespace labels or by address, on a port by number or by the
// container port's name); a pod no policy selects takes everything. Who can reach which pod on which
// port follows, for the base and with the media component (components/media) enabled.
import { readFile } from 'node:fs/promises';
import { BlockList, isIPv4 } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { type INetworkPolicy, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { parse } from 'yaml';
import { type K8sObject, renderBase, renderExampleOverlay, root } from './kubernetes-render.js';

type ILabelSelector = NonNullable<INetworkPolicy['spec']>['podSelector'];

type Policy = INetworkPolicy & K8sObject;

const NAMESPACE = 'wxim';
const objects = await renderBase();
/** Only a policy in the pods' namespace applies to them. */
const policiesOf = (list: K8sObject[]) => list.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === NAMESPACE) as unknown as Policy[];
const policies = policiesOf(objects);
const deployments = objects.filter((o) => o.kind === 'Deployment') as unknown as (IDeployment & K8sObject)[];
/** The example overlay as it is (the media component commented out), and with the media component. */
const example = await renderExampleOverlay();
const withMedia = await renderExampleOverlay(['media']);

/** Something that sends or receives: a pod (namespace and labels) or an address outside the cluster. */
interface Peer {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  ports?: Record<string, number>;
  ip?: string;
}

const namespaceLabels = (ns: string) => ({ 'kubernetes.io/metadata.name': ns });

function matches(selector: ILabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const value = labels[key];
    if (operator === 'In') return value !== undefined && values.includes(value);
    if (operator === 'NotIn') return value === undefined || !values.includes(value);
    if (operator === 'Exists') return value !== undefined;
    if (operator === 'DoesNotExist') return value === undefined;
    throw new Error(`unknown operator ${operator}`);
  });
  return byLabel && byExpression;
}

function inBlock(ip: string, block: { cidr: string; except?: string[] }): boolean {
  const list = (cidrs: string[]) => {
    const l = new BlockList();
    for (const cidr of cidrs) {
      const [net, prefix] = cidr.split('/');
      l.addSubnet(net!, Number(prefix), isIPv4(net!) ? 'ipv4' : 'ipv6');
    }
    return l;
  };
  const type = isIPv4(ip) ? 'ipv4' : 'ipv6';
  // An IPv4 address is never in an IPv6 block (BlockList would match it as ::ffff:a.b.c.d).
  if (isIPv4(block.cidr.split('/')[0]!) !== (type === 'ipv4')) return false;
  return list([block.cidr]).check(ip, type) && !list(block.except ?? []).check(ip, type);
}

function peerMatches(rule: INetworkPolicyPeer, peer: Peer): boolean {
  if (rule.ipBlock !== undefined) return peer.ip !== undefined && inBlock(peer.ip, rule.ipBlock);
  if (peer.namespace === undefined) return false; // selectors name pods, not addresses outside
  const namespaceOk = rule.namespaceSelector === undefined ? peer.namespace === NAMESPACE : matches(rule.namespaceSelector, namespaceLabels(peer.namespace));
  return namespaceOk && matches(rule.podSelector, peer.labels ?? {});
}

/** `port` on `owner` (the receiving pod: a named port is its container's). */
function portMatches(rule: INetworkPolicyPort, port: number, protocol: string, owner: Peer): boolean {
  if ((rule.protocol ?? 'TCP') !== protocol) return false;
  if (rule.port === undefined) return true;
  const number = typeof rule.port === 'number' ? rule.port : owner.ports?.[rule.port];
  return number === port || (number !== undefined && rule.endPort !== undefined && port >= number && port <= rule.endPort);
}

/** Whether `from` reaches `to` on `port` under `policies` (the namespace's, all of them). */
const allowedUnder =
  (policies: Policy[]) =>
  (from: Peer, to: Peer, port: number, protocol = 'TCP'): boolean => {
    const side = (pod: Peer, direction: 'Ingress' | 'Egress', other: Peer): boolean => {
      if (pod.namespace !== NAMESPACE) return true; // not ours: its own policies, if any
      const selecting = policies.filter((p) => matches(p.spec?.podSelector, pod.labels ?? {}) && (p.spec?.policyTypes ?? ['Ingress']).includes(direction));
      if (selecting.length === 0) return true;
      return selecting.some((p) =>
        ((direction === 'Ingress' ? p.spec?.ingress : p.spec?.egress) ?? []).some((rule) => {
          const peers = 'from' in rule ? rule.from : (rule as { to?: INetworkPolicyPeer[] }).to;
          const peerOk = peers === undefined || peers.length === 0 || peers.some((r) => peerMatches(r, other));
          const portOk = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((r) => portMatches(r, port, protocol, to));
          return peerOk && portOk;
        }),
      );
    };
    return side(from, 'Egress', to) && side(to, 'Ingress', from);
  };
const allowed = allowedUnder(policies);

const pods: Peer[] = deployments.map((d) => ({
  name: d.metadata.name,
  namespace: NAMESPACE,
  labels: d.spec?.template.metadata?.labels ?? {},
  ports: Object.fromEntries((d.spec?.template.spec?.containers[0]?.ports ?? []).map((p) => [p.name ?? '', p.containerPort])),
}));
const portOf = (p: Peer) => Object.values(p.ports ?? {})[0]!;

const ingressController: Peer = { name: 'ingress controller', namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
const prometheus: Peer = { name: 'Prometheus', namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };
const redis: Peer = { name: 'Redis', namespace: 'redis', labels: { 'app.kubernetes.io/name': 'redis' } };
const kubeDns: Peer = { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const elsewhere: Peer = { name: 'a pod of another namespace', namespace: 'shop', labels: { app: 'shop' } };
const neighbour: Peer = { name: 'another pod of this namespace', namespace: NAMESPACE, labels: { app: 'debug' } };
const internet: Peer = { name: 'a public address', ip: '101.91.22.57' };
const internet6: Peer = { name: 'a public IPv6 address', ip: '2402:4e00::1' };
const privateHost: Peer = { name: 'a private address', ip: '10.1.2.3' };
const metadata: Peer = { name: 'the cloud metadata address', ip: '169.254.169.254' };

const PUBLIC = ['wechat-gateway', 'im-callback'];
const CALLING_OUT = ['im-worker', 'wechat-pusher', 'im-callback'];
const OUTSIDE = [ingressController, prometheus, redis, kubeDns, elsewhere, neighbour, internet, internet6, privateHost, metadata];
const PORTS = [...new Set([22, 25, 53, 80, 443, 6379, 8080, 8443, 9999, 26379, ...pods.flatMap((p) => Object.values(p.ports ?? {}))])];

/** Every "from → to:port/protocol" that `policies` let through, between the pods and everything else. */
function reachable(policies: Policy[]): string[] {
  const allowed = allowedUnder(policies);
  const found: string[] = [];
  for (const from of [...pods, ...OUTSIDE])
    for (const to of [...pods, ...OUTSIDE]) {
      if (from === to || (pods.every((p) => p !== from) && pods.every((p) => p !== to))) continue;
      for (const port of PORTS)
        for (const protocol of ['TCP', 'UDP']) if (allowed(from, to, port, protocol)) found.push(`${from.name} → ${to.name}:${port}/${protocol}`);
    }
  return found;
}

t.test('the rendered policies: deny by default, in and out, for every pod of the namespace', async (t) => {
  t.ok(pods.length >= 5, `${pods.length} Deployments`);
  const deny = policies.find((p) => Object.keys(p.spec?.podSelector ?? {}).length === 0 && p.spec?.ingress === undefined && p.spec?.egress === undefined);
  t.ok(deny, 'a policy selecting every pod with no rule');
  t.same([...(deny?.spec?.policyTypes ?? [])].sort(), ['Egress', 'Ingress']);
  for (const p of pods) {
    t.notOk(allowed(neighbour, p, portOf(p)), `${p.name}: not reached from ${neighbour.name}`);
    t.notOk(allowed(elsewhere, p, portOf(p)), `${p.name}: not reached from ${elsewhere.name}`);
    for (const other of pods.filter((x) => x !== p)) t.notOk(allowed(p, other, portOf(other)), `${p.name} does not reach ${other.name}`);
    t.notOk(allowed(p, neighbour, 8080), `${p.name} does not reach ${neighbour.name}`);
  }
});

t.test('the ingress controller reaches wechat-gateway and im-callback on their HTTP ports, and nothing else', async (t) => {
  for (const p of pods) {
    for (const [name, port] of Object.entries(p.ports ?? {})) {
      const expected = PUBLIC.includes(p.name) && name === 'http';
      t.equal(allowed(ingressController, p, port), expected, `${p.name}:${port}: ${expected ? '' : 'not '}reached from the ingress controller`);
    }
    t.notOk(allowed(ingressController, p, 9999), `${p.name}: no other port`);
  }
  const naming = policies
    .flatMap((p) => (p.spec?.ingress ?? []).flatMap((r) => r.from ?? []))
    .filter((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx');
  t.equal(naming.length, 1, "the ingress controller's namespace is named in one place");
});

t.test("Prometheus reaches every service's metrics port", async (t) => {
  for (const p of pods) {
    t.ok(allowed(prometheus, p, portOf(p)), `${p.name}:${portOf(p)}`);
    t.notOk(allowed(prometheus, p, 9999), `${p.name}: no other port`);
  }
  const naming = policies
    .flatMap((p) => (p.spec?.ingress ?? []).flatMap((r) => r.from ?? []))
    .filter((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring');
  t.equal(naming.length, 1, "Prometheus's namespace is named in one place");
});

t.test('every service reaches Redis (6379) and its Sentinels (26379), and DNS', async (t) => {
  for (const p of pods) {
    t.ok(allowed(p, redis, 6379), `${p.name} → Redis:6379`);
    t.ok(allowed(p, redis, 26379), `${p.name} → Sentinel:26379`);
    t.notOk(allowed(p, redis, 22), `${p.name} → Redis's host on another port: no`);
    t.notOk(allowed(p, elsewhere, 6379), `${p.name} → ${elsewhere.name}:6379: no`);
    t.ok(allowed(p, kubeDns, 53, 'UDP'), `${p.name} → kube-dns:53/UDP`);
    t.ok(allowed(p, kubeDns, 53, 'TCP'), `${p.name} → kube-dns:53/TCP`);
    t.notOk(allowed(p, elsewhere, 53, 'UDP'), `${p.name} → another pod's port 53: no`);
  }
});

t.test('only im-worker, wechat-pusher and im-callback reach out, over HTTPS, to public addresses only', async (t) => {
  for (const p of pods) {
    const out = CALLING_OUT.includes(p.name);
    t.equal(allowed(p, internet, 443), out, `${p.name} → ${internet.name}:443: ${out ? 'yes' : 'no'}`);
    t.equal(allowed(p, internet6, 443), out, `${p.name} → ${internet6.name}:443: ${out ? 'yes' : 'no'}`);
    t.notOk(allowed(p, privateHost, 443), `${p.name} → ${privateHost.name}:443: no`);
    t.notOk(allowed(p, metadata, 80), `${p.name} → ${metadata.name}:80: no`);
    t.notOk(allowed(p, metadata, 443), `${p.name} → ${metadata.name}:443: no`);
    t.notOk(allowed(p, internet, 25), `${p.name} → ${internet.name}:25: no`);
    // Agents' media links may be plain http: the pusher alone fetches them.
    t.equal(allowed(p, internet, 80), p.name === 'wechat-pusher', `${p.name} → ${internet.name}:80`);
  }
});

t.test('wechat-gateway, the internet-facing service, reaches DNS and Redis and nothing else', async (t) => {
  const gateway = pods.find((p) => p.name === 'wechat-gateway')!;
  t.same(
    reachable(policies)
      .filter((r) => r.startsWith(`${gateway.name} → `))
      .sort(),
    [`${redis.name}:6379/TCP`, `${redis.name}:26379/TCP`, `${kubeDns.name}:53/TCP`, `${kubeDns.name}:53/UDP`].map((to) => `${gateway.name} → ${to}`).sort(),
    'no way out: not WeChat, not any other address or pod',
  );
});

t.test(
  "the media component (components/media, with MEDIA_PUBLIC_URL): the gateway also reaches public addresses on 80 (WeChat's video links are plain http) and 443, and nothing else changes",
  async (t) => {
    const component = parse(await readFile(join(root, 'deploy/k8s/components/media/kustomization.yaml'), 'utf8')) as { apiVersion: string; kind: string };
    t.same([component.apiVersion, component.kind], ['kustomize.config.k8s.io/v1alpha1', 'Component'], 'a Kustomize Component');
    const base = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
    const added = withMedia.filter((o) => !example.some((e) => e.kind === o.kind && e.metadata.name === o.metadata.name));
    t.same(
      added.map((o) => o.kind),
      ['NetworkPolicy'],
      'it adds one NetworkPolicy',
    );
    for (const o of added) {
      t.notOk(base.has(`${o.kind}/${o.metadata.name}`), `optional: the base holds no ${o.metadata.name}`);
      t.equal(o.metadata.namespace, NAMESPACE, "in the Deployments' namespace");
      t.doesNotThrow(() => new NetworkPolicy(o).validate(), `${o.metadata.name} is valid against the Kubernetes schema`);
    }
    t.same(policiesOf(example), policies, "the example overlay leaves it off: the base's policies");
    const before = new Set(reachable(policiesOf(example)));
    const after = reachable(policiesOf(withMedia));
    t.same(
      [...before].filter((r) => !after.includes(r)),
      [],
      'nothing reachable before is cut off',
    );
    t.same(
      after.filter((r) => !before.has(r)),
      [
        `wechat-gateway → ${internet.name}:80/TCP`,
        `wechat-gateway → ${internet.name}:443/TCP`,
        `wechat-gateway → ${internet6.name}:80/TCP`,
        `wechat-gateway → ${internet6.name}:443/TCP`,
      ],
      'what it opens: the gateway to public addresses over HTTP and HTTPS (not private, metadata or loopback ones, no other port)',
    );
  },
);
