export { type HealthRouteOptions, healthRoutes } from './health-routes.js';
