import { isAlias, isCollection, isMap, isNode, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { ManifestProblem } from '../errors.js';
import { printable } from '../util/printable.js';

/**
 * YAML the manifest's plain-data reading cannot represent, found on the parsed Document before any
 * of it is turned into JavaScript values, each with its place in the file:
 *
 * - an alias naming no anchor before it, or an alias inside the value it names (a cycle);
 * - aliases that expand the document past MAX_ALIAS_EXPANSION values: "billion laughs" and alias
 *   doubling build exponentially large data from a few hundred bytes. The yaml library's own guard
 *   (maxAliasCount) throws without saying where; this walk counts the same thing and names the alias;
 * - a key that is a list or a mapping (`? [a, b]`, `{a: 1}: x`): a manifest key is a name. (Turning
 *   one into a JavaScript key makes the library print a warning and a made-up key.)
 * - a missing key (`: value`), or a key given twice in one mapping. The library's own duplicate
 *   check compares each key with every key before it (quadratic: most of the minutes 100,000 keys
 *   took before the size limit), and misses `1` and `"1"`, which become the same key; this one is a
 *   Set, on the key as the manifest reads it.
 *
 * Anchors and aliases themselves are fine: `image: &img nginx:1.27` ... `image: *img` loads.
 */

/**
 * How many values aliases may add to the document when expanded. A manifest has under a hundred
 * values in all; 10,000 leaves room for any honest use of anchors and stops an alias bomb long
 * before it costs time or memory.
 */
export const MAX_ALIAS_EXPANSION = 10_000;

export function structureProblems(doc: Document, lc: LineCounter, text: string): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const anchors = new Map<string, unknown>();
  /** Expanded size (values, counting every alias as what it names) of each anchored node. */
  const sizes = new Map<unknown, number>();
  /** Nodes being walked: an alias naming one of them is inside the value it names. */
  const open = new Set<unknown>();
  let expanded = 0;
  let bomb = false;

  const at = (node: unknown): { line?: number; col?: number } => {
    const range = isNode(node) ? node.range : undefined;
    return range ? lc.linePos(range[0]) : {};
  };

  function walk(node: unknown, path: string[]): number {
    if (bomb) return 1;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const name = printable(node.source, 40);
      if (target === undefined) {
        problems.push({
          path: path.join('.'),
          message: `alias *${name} names no anchor: expected &${name} on a value earlier in the file (an anchor must come before its alias)`,
          ...at(node),
        });
        return 1;
      }
      if (open.has(target)) {
        problems.push({ path: path.join('.'), message: `alias *${name} is inside the value &${name} it names, which would make it endless`, ...at(node) });
        return 1;
      }
      const size = sizes.get(target) ?? 1;
      expanded += size;
      if (expanded > MAX_ALIAS_EXPANSION) {
        bomb = true;
        problems.push({
          path: path.join('.'),
          message: `alias *${name} takes the manifest past ${MAX_ALIAS_EXPANSION} values once aliases are expanded (an alias bomb?); expected aliases that repeat a few values`,
          ...at(node),
        });
      }
      return size;
    }
    const anchor = isNode(node) && !isAlias(node) ? node.anchor : undefined;
    // Set before walking the children, as the library resolves: `&a [*a]` names itself.
    if (anchor !== undefined) anchors.set(anchor, node);
    let size = 1;
    open.add(node);
    if (isMap(node)) {
      const seen = new Map<string, unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        const keyTarget = isAlias(key) ? anchors.get(key.source) : key;
        if (isCollection(keyTarget)) {
          const what = isSeq(keyTarget) ? 'a list' : 'a mapping';
          problems.push({
            path: path.join('.'),
            message: `expected a key name, got ${what} as a key (${sourceOf(key)}); a manifest key is a plain word such as "port"`,
            ...at(key),
          });
          continue;
        }
        if (key === null || (isScalar(key) && key.value === null && key.source === '')) {
          // An empty key's range is where its line starts; the ":" is what the eye finds.
          const from = key?.range?.[0];
          const colon = from === undefined ? -1 : text.indexOf(':', from);
          const pos = colon >= 0 ? lc.linePos(colon) : at(key ?? pair.value ?? node);
          problems.push({ path: path.join('.'), message: 'expected a key name before ":", got none', ...pos });
          continue;
        }
        size += walk(key, path);
        const seg = isScalar(keyTarget) ? String(keyTarget.value) : '?';
        const first = seen.get(seg);
        if (first !== undefined) {
          const line = at(first).line;
          problems.push({
            path: [...path, seg].join('.'),
            message: `invalid YAML: map keys must be unique; this key is already given${line === undefined ? '' : ` on line ${line}`}`,
            ...at(key),
          });
        } else {
          seen.set(seg, key);
        }
        size += walk(pair.value, [...path, seg]);
        if (bomb) break;
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        size += walk(item, [...path, String(i)]);
      });
    }
    open.delete(node);
    size = Math.min(size, MAX_ALIAS_EXPANSION + 1);
    if (anchor !== undefined) sizes.set(node, size);
    return size;
  }

  const sourceOf = (node: unknown): string => {
    const range = isNode(node) ? node.range : undefined;
    return range ? printable(text.slice(range[0], range[1]).trim(), 40) : '?';
  };

  walk(doc.contents, []);
  return problems;
}
