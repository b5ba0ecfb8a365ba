import { loadConfig, startOrExit } from '@wxim/config';
import { runServices } from '@wxim/host';
import { imCallbackService } from './service.js';

await startOrExit(imCallbackService.name, () => runServices(loadConfig(), [imCallbackService]));
