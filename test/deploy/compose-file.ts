import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface ComposeHealthcheck {
  test: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

export interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: ComposeHealthcheck;
  restart?: string;
  stop_grace_period?: string;
  env_file?: { path: string; required: boolean }[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

export const composeUrl = new URL('../../docker-compose.yml', import.meta.url);

/** The compose file as Compose sees it: YAML anchors and merge keys resolved. */
export function readCompose(): ComposeFile {
  return parse(readFileSync(composeUrl, 'utf8'), { merge: true }) as ComposeFile;
}

const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };

/** A Compose duration ("1m30s", "10s", "500ms") in milliseconds; Docker's default when absent. */
export function durationMs(value: string | undefined, absent = 10_000): number {
  if (value === undefined) return absent;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) throw new Error(`not a Compose duration: ${value}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0);
}

/** The port a `host:container` (or `ip:host:container`) mapping publishes from the container. */
export function containerPort(mapping: string): number {
  return Number(mapping.split(':').at(-1)!.split('/')[0]);
}
