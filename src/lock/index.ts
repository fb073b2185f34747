export * from './lock.js';
export { whyNotAlive } from './liveness.js';
export { holderLiveness, newHolder, parseHolder, type HolderLiveness, type LockHolder } from './holder.js';
export { withFileLock, fileLockHeldMessage, type FileLockOptions } from './file-lock.js';
