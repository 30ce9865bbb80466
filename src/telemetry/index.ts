export { WardenMetrics } from './metrics.js';
