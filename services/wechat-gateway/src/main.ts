import { loadConfig, startOrExit } from '@wxim/config';
import { runServices } from '@wxim/host';
import { wechatGatewayService } from './service.js';

await startOrExit(wechatGatewayService.name, () => runServices(loadConfig(), [wechatGatewayService]));
