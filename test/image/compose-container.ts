import { type ComposeService, containerPort, durationMs } from '../deploy/compose-file.js';

/** Where a test runs compose's services: names, network and volumes of its own. */
export interface Project {
  prefix: string;
  network: string;
}

const shellQuote = (arg: string) => (/^[\w./:=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/**
 * `docker run` arguments that start `service` as Compose starts it: its image, command and
 * environment, its restart policy, health check and stop grace period, its named volumes, and the
 * network under its service name. Its ports are published on the host's loopback at ports Docker
 * picks, so the test never clashes with what the host already runs. No .env is read: a fresh clone
 * has none, which is sandbox mode.
 */
export function runArgs(project: Project, name: string, service: ComposeService): string[] {
  if (service.image === undefined) throw new Error(`${name}: no image`);
  const args = ['run', '--detach', '--name', `${project.prefix}-${name}`, '--network', project.network, '--network-alias', name];
  for (const [key, value] of Object.entries(service.environment ?? {})) args.push('--env', `${key}=${value}`);
  for (const mapping of service.ports ?? []) args.push('--publish', `127.0.0.1::${containerPort(mapping)}`);
  for (const volume of service.volumes ?? []) {
    const [source, target] = volume.split(':');
    // A named volume (not a host path) belongs to the project, as Compose names it.
    args.push('--volume', source!.startsWith('.') || source!.startsWith('/') ? volume : `${project.prefix}-${source}:${target}`);
  }
  if (service.restart !== undefined) args.push('--restart', service.restart);
  const health = service.healthcheck;
  if (health !== undefined) {
    const [form, ...command] = health.test;
    // docker run takes the shell form only; both images have /bin/sh.
    args.push('--health-cmd', form === 'CMD' ? command.map(shellQuote).join(' ') : command.join(' '));
    if (health.interval !== undefined) args.push('--health-interval', health.interval);
    if (health.timeout !== undefined) args.push('--health-timeout', health.timeout);
    if (health.retries !== undefined) args.push('--health-retries', String(health.retries));
    if (health.start_period !== undefined) args.push('--health-start-period', health.start_period);
  }
  args.push('--stop-timeout', String(graceSeconds(service)));
  args.push(service.image, ...(service.command ?? []));
  return args;
}

/** How long Docker waits after SIGTERM before it kills: stop_grace_period, else its default 10 s. */
export function graceSeconds(service: ComposeService): number {
  return Math.ceil(durationMs(service.stop_grace_period) / 1000);
}
