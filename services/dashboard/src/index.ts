export { type Dashboard, type DashboardOverrides, createDashboard } from './dashboard.js';
export { describeJob } from './job-description.js';
export { registerQueueMetrics } from './queue-metrics.js';
export { BOARD_ACTIONS } from './board-actions.js';
export { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
export { RelayQueueAdapter } from './retry-as-by-hand.js';
export { dashboardService } from './service.js';
