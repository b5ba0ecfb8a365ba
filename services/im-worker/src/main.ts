import { loadConfig, startOrExit } from '@wxim/config';
import { runServices } from '@wxim/host';
import { imWorkerService } from './service.js';

await startOrExit(imWorkerService.name, () => runServices(loadConfig(), [imWorkerService]));
