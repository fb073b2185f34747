/**
 * streamTrustedVerified (record-stream.ts) on two threads, for a large history. This thread keeps
 * what must see records in file order: JSON.parse of each payload (about 7 µs a record here) and the
 * consumer (the audit collector, 3 µs). A worker does everything else, once per line: reading the
 * file, the chain's fast path over each line's bytes (ChainRun, as verifyHistoryRange walks it),
 * decoding, and finding each line's parts. bench/README.md, `## audit`, has the figures.
 *
 * The worker sends whole lines as JSON texts of arrays, one text per decoded piece:
 * `[line,"actor","kind","ts",policy_version,payload]` for a line in the writer's layout (the payload
 * text copied as it is, nothing parsed) or `[line,<the line>]` for any other line; this thread parses
 * each text once and feeds the consumer. JSON text is the cheapest way to move this between threads
 * here: structured cloning of parsed records cost twice a JSON.parse.
 *
 * The records are the one-thread fast pass's (forEachTrustedRecord), record for record: the same
 * layout check picks the lines, the strings taken from their places are plain (no escapes), and
 * each text must give back exactly the lines sent, numbered in order and of the expected shape, or
 * the pass ends with NotTrusted and the caller takes the exact pass, as it does for anything the
 * worker cannot read. The chain check gives a verdict only when every line is on the fast path of
 * verifyHistoryRange (then it is that function's result); otherwise the caller runs the full check.
 * A worker that cannot start (no built module to load, e.g. these sources under a TypeScript test
 * runner) or that fails before sending anything leaves the pass to this thread alone.
 * The worker stays at most AHEAD reads in front (a shared counter and Atomics.wait), so memory stays
 * bounded whatever the history's length.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ChainRun } from './chain.js';
import type { VerifyResult } from './types.js';
import { iterateLineChunks } from './lines.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { locateLayout } from './layout.js';
import { HASH_NOT_SENT, NotTrusted, asRecord, forEachLine, hasDuplicateMember, streamTrustedVerified, type OnRecord } from './record-stream.js';

const TASK = 'swiftdeploy:history-read';
/** Reads the worker may be ahead of this thread: bounds the texts waiting here (about 1 MB each). */
const AHEAD = 2;
/** Below this a worker's start-up (tens of ms) costs more than it saves. */
export const PARALLEL_FROM_BYTES = 32 * 1024 * 1024;

interface Task {
  task: typeof TASK;
  file: string;
  size: number;
  /** Int32Array over it: [0] = index of the last read this thread has consumed. */
  consumed: SharedArrayBuffer;
}

/** The chain as the reader checked it on the way: every line on the fast path, or null. */
type Chain = { records: number; head: string | null } | null;

type Message =
  /** Lines firstLine… of read `index`, as one JSON text of `count` arrays. */
  | { index: number; firstLine: number; text: string; count: number }
  /** Read `index` is all sent. */
  | { index: number; endOfRead: true }
  | { failed: string }
  | { done: true; chain: Chain };

const task = isMainThread ? null : (workerData as Partial<Task> | null);
if (task?.task === TASK && parentPort !== null) {
  const port = parentPort;
  const file = task.file as string;
  const consumed = new Int32Array(task.consumed as SharedArrayBuffer);
  const run = async (): Promise<void> => {
    let index = 0;
    // verifyHistoryRange's fast path over the bytes; at the first line off it, the caller runs the full check.
    const chain = new ChainRun();
    let chainOk = true;
    for await (const chunk of iterateLineChunks(file, task.size as number, { recycle: true })) {
      for (let seen = Atomics.load(consumed, 0); index - seen > AHEAD; seen = Atomics.load(consumed, 0)) {
        Atomics.wait(consumed, 0, seen, 1_000);
      }
      if (chainOk) chainOk = chain.acceptChunk(chunk);
      let items: string[] = [];
      let firstLine = chunk.firstLine;
      forEachLine(
        file,
        chunk,
        (text, from, to, line) => {
          if (items.length === 0) firstLine = line;
          const layout = locateLayout(text, from, to);
          // The strings are plain (locateLayout's patterns exclude escapes and control characters),
          // so quoting them gives their JSON text back.
          if (layout === null) {
            // Nothing vouches for these bytes; a member given twice would read as its last value here.
            if (hasDuplicateMember(text, from, to)) throw new NotTrusted(`${file}:${line}: a member name given twice`);
            items.push(`[${line},${text.slice(from, to)}]`);
          }
          else {
            const policy = layout.policyVersion === null ? 'null' : `"${layout.policyVersion}"`;
            const payload = text.slice(layout.payloadAt, layout.payloadEnd);
            items.push(`[${line},"${layout.actor}","${layout.kind}","${layout.ts}",${policy},${payload}]`);
          }
        },
        () => {
          // Sent piece by piece: a text dies young on this side (a small heap, little to collect).
          if (items.length === 0) return;
          port.postMessage({ index, firstLine, text: `[${items.join(',')}]`, count: items.length } satisfies Message);
          items = [];
        },
      );
      port.postMessage({ index, endOfRead: true } satisfies Message);
      index++;
    }
    port.postMessage({ done: true, chain: chainOk ? { records: chain.records, head: chain.head } : null } satisfies Message);
  };
  run().catch((error: unknown) => port.postMessage({ failed: error instanceof Error ? error.message : String(error) } satisfies Message));
}

export interface ParallelOptions {
  /** History size from which a worker reads (default PARALLEL_FROM_BYTES). */
  parallelFromBytes?: number;
  /** A worker that cannot start: read on this thread alone (default), or throw (tests that must run the worker). */
  noWorker?: 'alone' | 'throw';
}

/**
 * streamTrustedVerified(file, size, onRecord), record for record and with the same result: on a
 * worker and this thread from `parallelFromBytes` on, else (or when no worker starts) on this
 * thread alone. Throws NotTrusted (or what the reader throws) where that pass would.
 */
export async function streamTrustedParallel(file: string, size: number, onRecord: OnRecord, opts: ParallelOptions = {}): Promise<VerifyResult | null> {
  const parallelFromBytes = opts.parallelFromBytes ?? PARALLEL_FROM_BYTES;
  const alone = (): Promise<VerifyResult | null> => {
    if (opts.noWorker === 'throw' && size >= parallelFromBytes) throw new Error('history reader: no worker could start');
    return streamTrustedVerified(file, size, onRecord);
  };
  // Small files are not worth a worker's start-up.
  if (size < parallelFromBytes) return alone();
  const consumed = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(consumed, 0, -1);
  let worker: Worker;
  try {
    // A small young generation: the texts it builds die at once; this keeps its share of peak RSS low.
    worker = new Worker(new URL(import.meta.url), {
      workerData: { task: TASK, file, size, consumed: consumed.buffer as SharedArrayBuffer } satisfies Task,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
  } catch {
    return alone();
  }
  const arrived: Array<Extract<Message, { index: number }>> = [];
  let failure: Error | null = null;
  // Set by the first message: a worker that fails before it is one that could not start.
  let started = false;
  let unstarted = false;
  let chain: Chain | undefined;
  let wake: (() => void) | null = null;
  const settle = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  worker.on('message', (message: Message) => {
    started = true;
    if ('failed' in message) failure ??= new NotTrusted(message.failed);
    else if ('done' in message) chain = message.chain;
    else arrived.push(message);
    settle();
  });
  worker.once('error', (error) => {
    if (!started) unstarted = true;
    failure ??= new NotTrusted(`history reader failed: ${error.message}`);
    settle();
  });
  worker.once('exit', () => {
    if (!started) unstarted = true;
    if (chain === undefined) failure ??= new NotTrusted('history reader stopped early');
    settle();
  });
  try {
    let expectIndex = 0;
    let expectLine = 1;
    for (;;) {
      const message = arrived.shift();
      if (message === undefined) {
        if (failure !== null && unstarted) break;
        if (failure !== null) throw failure;
        if (chain !== undefined) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (message.index !== expectIndex) throw new NotTrusted(`${file}: read ${message.index} out of order`);
      if ('endOfRead' in message) {
        Atomics.store(consumed, 0, expectIndex);
        Atomics.notify(consumed, 0);
        expectIndex++;
      } else {
        if (message.firstLine !== expectLine) throw new NotTrusted(`${file}:${message.firstLine}: lines out of order`);
        expectLine = feed(file, message.text, message.count, expectLine, onRecord);
      }
    }
  } finally {
    worker.removeAllListeners();
    // Wake a reader waiting for room, so it stops at once.
    Atomics.store(consumed, 0, 0x7fffffff);
    Atomics.notify(consumed, 0);
    await worker.terminate();
  }
  if (unstarted || chain === undefined) return alone();
  return chain === null ? null : { ok: true, records: chain.records, head: chain.head };
}

/** The lines of one text to the consumer; returns the next line number. */
function feed(file: string, text: string, count: number, firstLine: number, onRecord: OnRecord): number {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    throw new NotTrusted(`${file}:${firstLine}: invalid JSON in the lines from here`);
  }
  if (!Array.isArray(items) || items.length !== count) throw new NotTrusted(`${file}:${firstLine}: lines from here do not read back as sent`);
  let line = firstLine;
  for (const item of items as unknown[]) {
    if (!Array.isArray(item) || item[0] !== line) throw new NotTrusted(`${file}:${line}: line does not read back as sent`);
    if (item.length === 6) {
      const [, actor, kind, ts, policyVersion, payload] = item as unknown[];
      if (typeof actor !== 'string' || typeof kind !== 'string' || typeof ts !== 'string' || (policyVersion !== null && typeof policyVersion !== 'string')) {
        throw new NotTrusted(`${file}:${line}: line does not read back as sent`);
      }
      // A payload that is not an object: the single-thread pass parses such a line whole; leave it to the exact pass.
      if (!isPlainObject(payload)) throw new NotTrusted(`${file}:${line}: payload is not an object`);
      onRecord(line, asRecord({ actor, kind, ts, policyVersion, hash: HASH_NOT_SENT }, payload));
    } else if (item.length === 2) {
      if (!isPlainObject(item[1])) throw new NotTrusted(`${file}:${line}: not a history record`);
      onRecord(line, item[1]);
    } else throw new NotTrusted(`${file}:${line}: line does not read back as sent`);
    line++;
  }
  return line;
}
