import { describe, expect, it } from 'vitest';
import { isPlainObject } from '../../src/util/is-plain-object.js';

describe('isPlainObject', () => {
  it('accepts JSON objects, empty and prototype-less ones too', () => {
    for (const v of [{}, { a: 1 }, JSON.parse('{"x":[1]}'), Object.create(null)]) expect(isPlainObject(v)).toBe(true);
  });
  it('refuses null, arrays and every non-object', () => {
    for (const v of [null, undefined, [], [{}], 'x', 0, true, () => ({})]) expect(isPlainObject(v), String(v)).toBe(false);
  });
});
