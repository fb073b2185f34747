/**
 * `verifyHistoryRange` on a second thread, so `audit` hashes the chain on one core while it parses
 * and collects on the other (2-core machines: about the cost of the longer of the two instead of
 * their sum). The worker runs this same module: loaded as a worker with the task below, it verifies
 * and posts the result. Where no worker can run this module (the TypeScript sources under a test
 * runner), or the worker fails, the check runs on the calling thread instead: same result, slower.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { verifyHistoryRange } from '../history/verify.js';
import type { VerifyResult } from '../history/types.js';

const TASK = 'swiftdeploy:verify-history';

interface Task {
  task: typeof TASK;
  file: string;
  size: number;
}

const task = isMainThread ? null : (workerData as Partial<Task> | null);
if (task?.task === TASK && parentPort !== null) {
  const port = parentPort;
  verifyHistoryRange(task.file as string, task.size as number).then(
    (result) => port.postMessage({ result }),
    // The calling thread re-runs the check and gets the error itself, with its own type.
    () => port.postMessage({ failed: true }),
  );
}

/** verifyHistoryRange(file, size), on a worker thread when one can run. */
export function verifyInBackground(file: string, size: number): Promise<VerifyResult> {
  const here = import.meta.url;
  if (!here.endsWith('.js')) return verifyHistoryRange(file, size);
  return new Promise<VerifyResult>((resolve) => {
    let settled = false;
    const inThread = (): void => {
      if (settled) return;
      settled = true;
      resolve(verifyHistoryRange(file, size));
    };
    let worker: Worker;
    try {
      // Small heap: the check streams; this keeps the second thread's share of peak RSS low.
      worker = new Worker(new URL(here), { workerData: { task: TASK, file, size } satisfies Task, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    } catch {
      inThread();
      return;
    }
    worker.once('message', (message: { result?: VerifyResult }) => {
      if (message.result !== undefined && !settled) {
        settled = true;
        resolve(message.result);
      } else inThread();
      void worker.terminate();
    });
    worker.once('error', inThread);
    worker.once('exit', inThread);
  });
}
