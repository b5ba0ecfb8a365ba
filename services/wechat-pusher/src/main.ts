import { loadConfig, startOrExit } from '@wxim/config';
import { runServices } from '@wxim/host';
import { wechatPusherService } from './service.js';

await startOrExit(wechatPusherService.name, () => runServices(loadConfig(), [wechatPusherService]));
