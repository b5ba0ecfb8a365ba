import { loadConfig, startOrExit } from '@wxim/config';
import { runServices } from '@wxim/host';
import { requirePasswordInKubernetes } from './kubernetes-password.js';
import { dashboardService } from './service.js';

await startOrExit(dashboardService.name, () => {
  const config = loadConfig();
  requirePasswordInKubernetes(config, process.env);
  return runServices(config, [dashboardService]);
});
