export * from './lock.js';
export { whyNotAlive } from './liveness.js';
