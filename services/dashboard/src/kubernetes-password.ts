import { type Config, ConfigError, type Env } from '@wxim/config';

const LOOPBACK = /^(localhost|::1|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * In a Kubernetes pod (KUBERNETES_SERVICE_HOST is always set there, service links or not) a
 * dashboard without a password would listen on loopback only: its probes, which come from the
 * node, never reach it and the pod restarts forever. Say what to set instead.
 */
export function requirePasswordInKubernetes(config: Config, env: Env): void {
  if (env['KUBERNETES_SERVICE_HOST'] === undefined || config.dashboard.password !== undefined || !LOOPBACK.test(config.localBind)) return;
  throw new ConfigError(
    'DASHBOARD_PASSWORD',
    'is missing',
    `in Kubernetes the dashboard needs one (without it it listens on ${config.localBind} only and fails its probes): set DASHBOARD_USER and DASHBOARD_PASSWORD in its Secret, then reach it with kubectl port-forward svc/dashboard 3002`,
  );
}
