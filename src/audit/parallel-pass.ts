/**
 * The report's pass over a large history on two threads. This thread keeps what must see records in
 * file order: JSON.parse of each payload (about 7 µs a record here) and the collector (3 µs). A
 * worker does everything else, once per line: reading the file, decoding it, finding each line's
 * parts, and the chain check (sha256 of each line; the check `audit verify` makes, about 7 s of a
 * core on a million records, which until now took a thread of its own and read the file a second
 * time). Measured on the 1,000,000-record bench history: about 13.5 s and 130 MB instead of
 * 16 s and 120 MB with the chain check on its own thread (bench/README.md, `## audit`).
 *
 * The worker sends whole lines as JSON texts of arrays, one text per decoded piece:
 * `[line,"actor","kind","ts",policy_version,payload]` for a line in the writer's layout (the payload
 * text copied as it is, nothing parsed) or `[line,<the line>]` for any other line; this thread parses
 * each text once and feeds the collector. JSON text is the cheapest way to move this between threads
 * here: structured cloning of parsed records cost twice a JSON.parse.
 *
 * The records are the one-thread fast pass's (forEachTrustedRecord), record for record: the same
 * layout check picks the lines, the strings taken from their places are plain (no escapes), and
 * each text must give back exactly the lines sent, numbered in order and of the expected shape, or
 * the pass ends with NotTrusted and the caller takes the exact pass, as it does for anything the
 * worker cannot read. The chain check gives a verdict only when every line is on the fast path of
 * verifyHistoryRange (then it is that function's result); otherwise the caller runs the full check.
 * The worker stays at most AHEAD reads in front (a shared counter and Atomics.wait), so memory stays
 * bounded whatever the history's length.
 */
import { hash } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { GENESIS_PREV, MAX_RECORD_BYTES } from '../history/chain.js';
import type { VerifyResult } from '../history/types.js';
import { iterateLineChunks } from '../history/lines.js';
import type { AuditCollector } from './collect.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { HASH_NOT_SENT, NotTrusted, asRecord, forEachLine, hasDuplicateMember, locateLayout, streamHistory, withoutHashMember } from './history-stream.js';

const TASK = 'swiftdeploy:audit-read';
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
    // The chain check of verifyHistoryRange's fast path, on the text already in hand: a line in the
    // writer's layout whose seq and prev continue the chain and whose hash is sha256(prev + the line
    // without its hash member). Hashing the decoded text hashes the line's bytes whenever they are
    // valid UTF-8 (the writer's always are); for any other line the digest differs and the check
    // gives up, as it does at the first line off the fast path: the caller then runs the full check.
    let chainOk = true;
    let records = 0;
    let expectPrev = GENESIS_PREV;
    for await (const chunk of iterateLineChunks(file, task.size as number, { recycle: true })) {
      for (let seen = Atomics.load(consumed, 0); index - seen > AHEAD; seen = Atomics.load(consumed, 0)) {
        Atomics.wait(consumed, 0, seen, 1_000);
      }
      let items: string[] = [];
      let firstLine = chunk.firstLine;
      forEachLine(
        file,
        chunk,
        (text, from, to, line) => {
          if (items.length === 0) firstLine = line;
          const layout = locateLayout(text, from, to);
          if (chainOk) {
            if (layout === null || layout.prev !== expectPrev || layout.seq !== String(records + 1)) chainOk = false;
            // verifyHistoryRange refuses a line longer than the ledger writes (iterateLineBatches).
            else if (to - from > MAX_RECORD_BYTES / 3 && Buffer.byteLength(text.slice(from, to)) > MAX_RECORD_BYTES) chainOk = false;
            else if (hash('sha256', expectPrev + withoutHashMember(text, from, to, layout), 'hex') !== layout.hash) chainOk = false;
            else {
              records++;
              expectPrev = layout.hash;
            }
          }
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
    port.postMessage({ done: true, chain: chainOk ? { records, head: records === 0 ? null : expectPrev } : null } satisfies Message);
  };
  run().catch((error: unknown) => port.postMessage({ failed: error instanceof Error ? error.message : String(error) } satisfies Message));
}

/** Whether streamTrustedParallel reads on a worker for a history of this size. */
export function readsInParallel(size: number, parallelFromBytes = PARALLEL_FROM_BYTES): boolean {
  // Under a TypeScript test runner no worker can load this module; small files are not worth one.
  return import.meta.url.endsWith('.js') && size >= parallelFromBytes;
}

/**
 * Streams bytes [0, size) of `file` into the collector exactly as the single-thread fast pass
 * (`streamHistory` with `trustLayout`) would, reading on a worker when readsInParallel (else, or when
 * no worker starts, on this thread). Throws NotTrusted (or what the reader throws) where that pass
 * would. Returns what verifyHistoryRange(file, size) returns when the worker found every line on
 * the chain's fast path (then that is exactly its result: all records verified, the last hash as
 * head), else null: the caller must run the full check.
 */
export async function streamTrustedParallel(file: string, size: number, collector: AuditCollector, parallelFromBytes = PARALLEL_FROM_BYTES): Promise<VerifyResult | null> {
  const alone = async (): Promise<null> => {
    await streamHistory(file, size, collector.add, () => undefined, { trustLayout: true });
    return null;
  };
  if (!readsInParallel(size, parallelFromBytes)) return alone();
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
  let chain: Chain | undefined;
  let wake: (() => void) | null = null;
  const settle = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  worker.on('message', (message: Message) => {
    if ('failed' in message) failure ??= new NotTrusted(message.failed);
    else if ('done' in message) chain = message.chain;
    else arrived.push(message);
    settle();
  });
  worker.once('error', (error) => {
    failure ??= new NotTrusted(`audit reader failed: ${error.message}`);
    settle();
  });
  worker.once('exit', () => {
    if (chain === undefined) failure ??= new NotTrusted('audit reader stopped early');
    settle();
  });
  try {
    let expectIndex = 0;
    let expectLine = 1;
    for (;;) {
      const message = arrived.shift();
      if (message === undefined) {
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
        expectLine = feed(file, message.text, message.count, expectLine, collector);
      }
    }
  } finally {
    worker.removeAllListeners();
    // Wake a reader waiting for room, so it stops at once.
    Atomics.store(consumed, 0, 0x7fffffff);
    Atomics.notify(consumed, 0);
    await worker.terminate();
  }
  return chain === null ? null : { ok: true, records: chain.records, head: chain.head };
}

/** The lines of one text into the collector; returns the next line number. */
function feed(file: string, text: string, count: number, firstLine: number, collector: AuditCollector): number {
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
      collector.add(line, asRecord({ actor, kind, ts, policyVersion, hash: HASH_NOT_SENT }, payload));
    } else if (item.length === 2) {
      if (!isPlainObject(item[1])) throw new NotTrusted(`${file}:${line}: not a history record`);
      collector.add(line, item[1]);
    } else throw new NotTrusted(`${file}:${line}: line does not read back as sent`);
    line++;
  }
  return line;
}
