import { loadConfig, startOrExit } from '@wxim/config';
import { runServices } from '@wxim/runtime';
import { dashboardService } from './service.js';

await startOrExit(dashboardService.name, () => runServices(loadConfig(), [dashboardService]));
