export { startModuleWorker, type ModuleWorkerData } from './module-worker.js';
export { fromThreadFailure, toThreadFailure, type ThreadFailure } from './errors.js';
