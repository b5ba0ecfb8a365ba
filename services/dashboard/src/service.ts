import type { ServiceDefinition } from '@wxim/host';
import { ACCOUNTS_LIST_PATH, accountsPage } from './accounts-page.js';
import { createDashboard } from './dashboard.js';
import { LoginThrottle } from './login-throttle.js';

/** The dashboard as a service: bull-board over every queue, and the queues' metrics. */
export const dashboardService: ServiceDefinition = {
  name: 'dashboard',
  kind: 'http',
  requires: [],
  port: (config) => config.ports.dashboard,
  // Without a password the board is for this machine only (LOCAL_BIND, 127.0.0.1 by default), and read-only.
  host: (config) => (config.dashboard.password === undefined ? config.localBind : '0.0.0.0'),
  build: async (config, { processMetrics, behindAccountsFront, shared }) => {
    // One password opens every account's board: a client's failed logins count across them all.
    const loginThrottle = shared?.('login-throttle', () => new LoginThrottle());
    const dashboard = await createDashboard(config, {
      processMetrics,
      ...(behindAccountsFront ? { accountsList: ACCOUNTS_LIST_PATH } : {}),
      ...(loginThrottle === undefined ? {} : { loginThrottle }),
    });
    if (config.dashboard.password === undefined)
      dashboard.app.log.warn(
        `no DASHBOARD_PASSWORD: the dashboard is read-only and listens on ${config.localBind} only (LOCAL_BIND), answering to this machine's names; set DASHBOARD_USER and DASHBOARD_PASSWORD to act on jobs or reach it from elsewhere`,
      );
    return dashboard;
  },
  shutdownMs: 10_000,
  // ACCOUNTS_FILE: each account's board at /accounts/<account>/, the list of them at /accounts/; the root is `default`'s board, else the list.
  frontRoutes: accountsPage,
};
