/**
 * The report's pass over history.jsonl: reads the file in large batches and hands each record to
 * the collector, with no await per record. What it accepts and refuses is exactly what the ledger's
 * `readRecords` does (a torn last line is skipped with the ledger's warning; invalid JSON before the
 * last line, or a line that is not an object, throws HistoryIntegrityError naming the line).
 *
 * `trustLayout` is the fast mode, for a pass whose file the caller verifies separately and redoes
 * without it unless the chain is intact: a line in the writer's canonical layout is then not parsed
 * whole; only its payload is, and actor, kind, policy_version and ts (all the report reads besides
 * the payload) are taken from their fixed places. For a line the writer wrote this is the same
 * record JSON.parse gives, field for field. Any line it is unsure of is parsed whole.
 */
import { HistoryIntegrityError } from '../errors.js';
import { bytesAt, canonicalLayout, isPlainObject } from '../history/chain.js';
import { tornWarning } from '../history/ledger.js';
import { iterateLineBatches } from '../history/lines.js';

export interface StreamOptions {
  trustLayout?: boolean;
}

/** Streams bytes [0, size) of `file` into `onRecord`, in file order. */
export async function streamHistory(
  file: string,
  size: number,
  onRecord: (line: number, record: Record<string, unknown>) => void,
  warn: (message: string) => void,
  opts: StreamOptions = {},
): Promise<void> {
  let pendingBad: number | null = null;
  // Lines are used before the next read: the recycled buffers are safe here.
  for await (const batch of iterateLineBatches(file, size, { recycle: true })) {
    for (const raw of batch) {
      if (pendingBad !== null) throw new HistoryIntegrityError(`${file}:${pendingBad}: invalid JSON`);
      if (!raw.terminated) {
        warn(tornWarning(file));
        return;
      }
      let value = opts.trustLayout === true ? fromLayout(raw.bytes) : null;
      if (value === null) {
        try {
          value = JSON.parse(raw.bytes.toString('utf8')) as Record<string, unknown>;
        } catch {
          // Bad only if another line follows; as the last line it is a torn append.
          pendingBad = raw.line;
          continue;
        }
        if (!isPlainObject(value)) throw new HistoryIntegrityError(`${file}:${raw.line}: not a history record`);
      }
      onRecord(raw.line, value);
    }
  }
  if (pendingBad !== null) warn(tornWarning(file));
}

const MANIFEST_KEY = Buffer.from('","manifest_sha256":');
const PAYLOAD_KEY = Buffer.from(',"payload":');
const POLICY_KEY = Buffer.from(',"policy_version":');
const PREV_KEY_LENGTH = ',"prev":"'.length;
const NULL = Buffer.from('null');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;


/**
 * actor, kind, policy_version, ts and the parsed payload of a line in the canonical layout, or null
 * when the line is not exactly that (then it is parsed whole). manifest_sha256 and policy_version
 * must be null or a string without escapes, and the payload must parse to an object.
 */
function fromLayout(line: Buffer): Record<string, unknown> | null {
  const layout = canonicalLayout(line);
  if (layout === null) return null;
  // After kind: ,"manifest_sha256":<null | "…">,"payload":
  let at = layout.kindEnd;
  if (!bytesAt(line, at, MANIFEST_KEY)) return null;
  at += MANIFEST_KEY.length;
  if (bytesAt(line, at, NULL)) at += NULL.length;
  else {
    if (line[at] !== QUOTE) return null;
    at++;
    while (at < line.length && line[at] !== QUOTE) {
      if (line[at] === BACKSLASH) return null;
      at++;
    }
    at++;
  }
  if (!bytesAt(line, at, PAYLOAD_KEY)) return null;
  const payloadAt = at + PAYLOAD_KEY.length;
  // Before prev: ,"policy_version":<null | "…">
  const policyEnd = layout.prevAt - PREV_KEY_LENGTH;
  let policyAt: number;
  let policyVersion: string | null;
  if (bytesAt(line, policyEnd - NULL.length, NULL)) {
    policyAt = policyEnd - NULL.length;
    policyVersion = null;
  } else {
    if (line[policyEnd - 1] !== QUOTE) return null;
    let open = policyEnd - 2;
    while (open > payloadAt && line[open] !== QUOTE) {
      if (line[open] === BACKSLASH) return null;
      open--;
    }
    policyAt = open;
    policyVersion = line.toString('utf8', open + 1, policyEnd - 1);
  }
  const payloadEnd = policyAt - POLICY_KEY.length;
  if (payloadEnd <= payloadAt || !bytesAt(line, payloadEnd, POLICY_KEY)) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(line.toString('utf8', payloadAt, payloadEnd));
  } catch {
    return null;
  }
  if (!isPlainObject(payload)) return null;
  return {
    actor: line.toString('utf8', 10, layout.actorEnd),
    kind: line.toString('utf8', layout.kindAt, layout.kindEnd),
    payload,
    policy_version: policyVersion,
    ts: line.toString('utf8', layout.tsAt, layout.tsEnd),
  };
}

