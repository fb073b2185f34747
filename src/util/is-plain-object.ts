/**
 * A JSON object as JSON.parse or YAML's toJS hands it over: an object that is neither null nor an
 * array. The one copy of this check (parsed OPA answers, compose listings, history records, audit reads).
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
