import type { Config, Setting } from '@wxim/config';
import type { FastifyInstance } from 'fastify';
import type { AccountRoute } from './account-front.js';

/** A service built from configuration: its Fastify app (routes, or health and metrics) and its lifecycle. */
export interface RunningService {
  app: FastifyInstance;
  /** Starts taking work once listening (workers); HTTP services take it by listening. */
  start?(): void;
  /** Told before its server stops taking requests (see HttpHandler.closing); close() tells it too. */
  closing?(): void;
  /** Stops taking work, finishes or hands back what is in flight, closes connections. */
  close(): Promise<void>;
  /**
   * With ACCOUNTS_FILE: a request for this account that the front answered itself, so the service
   * never saw it (a fanned-out body over the limit, `too_large`; one the front could not read whole
   * or hand on, `failed`). A service that must account for every such request does so here, as if
   * it had answered it (im-callback counts it, and marks a callback it never saw as a gap).
   */
  missed?(url: string, why: MissedReason): void;
}

export type MissedReason = 'too_large' | 'failed';

export interface BuildOptions {
  /** Whether the service reports Node's process metrics (one service per process does). */
  processMetrics: boolean;
  /** Built as one account of several behind the accounts front (ACCOUNTS_FILE, sandbox mode), whose own pages (frontRoutes) list them all. */
  behindAccountsFront?: true;
  /**
   * Behind the accounts front: what the accounts' instances of the service share in this process,
   * made by the first that asks for it under `key` (e.g. the dashboard's count of failed logins:
   * one password opens every account's board).
   */
  shared?: <T>(key: string, make: () => T) => T;
}

/**
 * One service, as its own `main.ts` and the all-in-one launcher both run it: its name, the
 * settings it cannot start without, its port, and how to build it.
 */
export interface ServiceDefinition {
  name: string;
  /** `http` services take requests from the platforms and stop first on shutdown; `worker`s take jobs. */
  kind: 'http' | 'worker';
  requires: readonly Setting[];
  port(config: Config): number;
  /** The interface to listen on: all by default. */
  host?(config: Config): string;
  build(config: Config, options: BuildOptions): Promise<RunningService>;
  /** How long a shutdown may take before the process exits anyway. */
  shutdownMs: number;
  /** With ACCOUNTS_FILE: the service's own ways of naming the account a request is for (see buildForAccounts). */
  accountRoute?: AccountRoute;
  /**
   * With ACCOUNTS_FILE: routes the front answers itself, over every account (e.g. the dashboard's
   * list of accounts). A request one of them matches is not handed to an account.
   */
  frontRoutes?(front: FastifyInstance, accounts: readonly AccountService[]): void | Promise<void>;
}

/** One account's instance of a service, behind the front. */
export interface AccountService {
  account: string;
  config: Config;
  service: RunningService;
}

/**
 * How many connections the kernel holds for a service before the service takes them; Node's
 * default is 511. The connections of a larger burst (IM calling back hundreds of replies at once,
 * WeChat pushing a crowd's messages) past it are dropped at the handshake, and their callers try
 * again only a second later, then three: a callback is lost past IM's 2 s budget. Linux caps the
 * figure at net.core.somaxconn (4096 since 5.4).
 */
export const LISTEN_BACKLOG = 4096;

/** The interface `definition` listens on: its own choice, else every one. */
export function listenHost(definition: ServiceDefinition, config: Config): string {
  return definition.host?.(config) ?? '0.0.0.0';
}
