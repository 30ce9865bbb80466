export { startModuleWorker, type ModuleWorkerData } from './module-worker.js';
