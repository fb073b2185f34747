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
