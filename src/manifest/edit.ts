import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import { ManifestError } from '../errors.js';
import type { AppMode } from './schema.js';
import { parseManifest } from './load.js';

/**
 * Returns the manifest text with `services.mode` set to `mode`, changing exactly one line.
 *
 * The yaml Document API locates the node (with its exact source range); the new value is spliced
 * into the original text at that range instead of re-serialising the document with
 * `doc.toString()`, which may re-flow long lines or normalise quoting elsewhere. Comments, order,
 * quoting style and formatting therefore survive byte for byte, and the result is re-parsed and
 * checked before anyone writes it.
 */
export function setServicesMode(text: string, mode: AppMode, file: string): string {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const services = doc.get('services', true);
  const node = isMap(services) ? services.get('mode', true) : undefined;
  if (!isScalar(node) || !node.range) {
    throw new ManifestError(file, [{ path: 'services.mode', message: 'cannot edit: the key is missing or not a plain value' }]);
  }
  const [start, end] = node.range;
  const quote = node.type === 'QUOTE_DOUBLE' ? '"' : node.type === 'QUOTE_SINGLE' ? "'" : '';
  const next = `${text.slice(0, start)}${quote}${mode}${quote}${text.slice(end)}`;

  const parsed = parseManifest(next, file);
  if (parsed.services.mode !== mode) {
    throw new ManifestError(file, [{ path: 'services.mode', message: `edit did not take: read back "${parsed.services.mode}"` }]);
  }
  const before = text.split('\n');
  const after = next.split('\n');
  const changed = before.filter((line, i) => line !== after[i]).length;
  if (before.length !== after.length || changed > 1) {
    throw new ManifestError(file, [{ path: 'services.mode', message: `edit would change ${changed} lines; refusing` }]);
  }
  return next;
}

/**
 * Returns the manifest text with some `services` keys (image, version) set, one line per key, as
 * setServicesMode does: each value spliced into its own source range, comments and formatting kept,
 * the result re-parsed and checked. Values keep the key's quoting; a plain scalar that would not read
 * back as the same string (a version such as 1.10) is double-quoted.
 */
export function setServicesKeys(text: string, values: { image?: string; version?: string }, file: string): string {
  let next = text;
  let expectedChanges = 0;
  for (const [key, value] of Object.entries(values) as Array<[string, string | undefined]>) {
    if (value === undefined) continue;
    const lineCounter = new LineCounter();
    const doc = parseDocument(next, { lineCounter });
    const services = doc.get('services', true);
    const node = isMap(services) ? services.get(key, true) : undefined;
    if (!isScalar(node) || !node.range) {
      throw new ManifestError(file, [{ path: `services.${key}`, message: 'cannot edit: the key is missing or not a plain value' }]);
    }
    if (node.value === value) continue;
    const [start, end] = node.range;
    const plainReadsBack = isScalar(parseDocument(`x: ${value}`).get('x', true)) && parseDocument(`x: ${value}`).get('x') === value;
    const quote = node.type === 'QUOTE_SINGLE' ? "'" : node.type === 'QUOTE_DOUBLE' || !plainReadsBack ? '"' : '';
    next = `${next.slice(0, start)}${quote}${value}${quote}${next.slice(end)}`;
    expectedChanges++;
  }
  const parsed = parseManifest(next, file);
  for (const [key, value] of Object.entries(values) as Array<['image' | 'version', string | undefined]>) {
    if (value !== undefined && parsed.services[key] !== value) {
      throw new ManifestError(file, [{ path: `services.${key}`, message: `edit did not take: read back "${String(parsed.services[key])}"` }]);
    }
  }
  const before = text.split('\n');
  const after = next.split('\n');
  const changed = before.filter((line, i) => line !== after[i]).length;
  if (before.length !== after.length || changed > expectedChanges) {
    throw new ManifestError(file, [{ path: 'services', message: `edit would change ${changed} lines; refusing` }]);
  }
  return next;
}
