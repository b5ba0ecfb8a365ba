import type { Config } from '@wxim/config';
import { type Dashboard, type DashboardOverrides, createDashboard } from '@wxim/dashboard';
import { Agent, type Dispatcher, request } from 'undici';

/** The board's login in these tests. */
export const LOGIN = { DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 's3cret-pass' };

export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export const SIGNED_IN = basicAuth(LOGIN.DASHBOARD_USER, LOGIN.DASHBOARD_PASSWORD);

export interface CallOptions {
  /** Sent instead of the login (`{}`: no credentials at all). */
  headers?: Record<string, string>;
  body?: string;
  /** The client's own address (any of 127.0.0.0/8 on Linux), to be a second client. */
  from?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface BoardOnLoopback {
  dashboard: Dashboard;
  /** Where the board listens, e.g. http://127.0.0.1:40000. */
  base: string;
  call: (method: Dispatcher.HttpMethod, path: string, options?: CallOptions) => Promise<Answer>;
}

/** The dashboard on a free port of 127.0.0.1, closed when `t` ends, and a client of it over real HTTP. */
export async function boardOnLoopback(
  t: { teardown(fn: () => Promise<void>): void },
  config: Config,
  overrides: DashboardOverrides = {},
): Promise<BoardOnLoopback> {
  const dashboard = await createDashboard(config, overrides);
  await dashboard.app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => dashboard.close());
  const base = `http://127.0.0.1:${(dashboard.app.server.address() as { port: number }).port}`;
  return {
    dashboard,
    base,
    async call(method, path, { headers = SIGNED_IN, body, from } = {}) {
      const dispatcher = from === undefined ? undefined : new Agent({ localAddress: from });
      try {
        const res = await request(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }), ...(dispatcher ? { dispatcher } : {}) });
        const text = await res.body.text();
        return { status: res.statusCode, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
      } finally {
        await dispatcher?.close();
      }
    },
  };
}
