/** Reading a test's history.jsonl back: every line parsed, in file order (no verification). */
import { readFile } from 'node:fs/promises';
import type { EventPayload, HistoryRecord } from '../../src/history/types.js';

export type EventRecord = HistoryRecord & { payload: EventPayload };

export async function readEventRecords(file: string): Promise<EventRecord[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EventRecord);
}
