/**
 * The status record's payload with its owners' types: the ledger (src/history/types.ts) stores a
 * decision and a window as objects it never reads; status writes and reads them as these.
 */
import type { PolicyVerdict as StoredVerdict, StatusPayload as StoredStatusPayload } from '../history/types.js';
import type { WindowStats } from '../metrics/types.js';
import type { DecisionRecord } from '../policy/types.js';

export type PolicyVerdict = StoredVerdict<DecisionRecord>;
export type StatusPayload = StoredStatusPayload<DecisionRecord, WindowStats>;
