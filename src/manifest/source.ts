import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { ManifestError } from '../errors.js';

/**
 * The manifest's bytes and their decoding. A manifest is a few kilobytes of UTF-8; anything else is
 * refused here, before YAML sees it, with a message that says what the file looks like instead.
 */

/**
 * The largest manifest read: a real one is 2-3 KB. Parsing is linear but not free: a 20 MB value took
 * 7 s and 800 MB, and 1 MB of keys about 8 s on a busy 2-core host (all of it in the YAML parser).
 * 64 KiB is twenty times the largest real manifest and parses in well under a second.
 */
export const MAX_MANIFEST_BYTES = 64 * 1024;

/** Reads at most MAX_MANIFEST_BYTES + 1 bytes: a FIFO or /dev/zero cannot make the read unbounded. */
export async function readManifestBytes(abs: string): Promise<{ bytes: Buffer; size: number }> {
  const fh = await open(abs, 'r');
  try {
    const stat = await fh.stat();
    const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
    let size = 0;
    while (size < buf.length) {
      const { bytesRead } = await fh.read(buf, size, buf.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
    }
    // A regular file's size says how large it is; for anything else, what was read is all we know.
    return { bytes: buf.subarray(0, size), size: stat.isFile() ? Math.max(stat.size, size) : size };
  } finally {
    await fh.close();
  }
}

const BOMS: Array<{ bytes: number[]; name: string }> = [
  // UTF-32 first: its LE mark starts with UTF-16 LE's.
  { bytes: [0xff, 0xfe, 0x00, 0x00], name: 'UTF-32 LE' },
  { bytes: [0x00, 0x00, 0xfe, 0xff], name: 'UTF-32 BE' },
  { bytes: [0xff, 0xfe], name: 'UTF-16 LE' },
  { bytes: [0xfe, 0xff], name: 'UTF-16 BE' },
];

/** UTF-16/32 by byte-order mark, else by the NUL pattern ASCII text gets in them (YAML 1.2, 5.2). */
function wideEncoding(b: Buffer): { name: string; how: string } | undefined {
  for (const bom of BOMS) {
    if (b.length >= bom.bytes.length && bom.bytes.every((x, i) => b[i] === x)) {
      return { name: bom.name, how: `it starts with the byte-order mark ${bom.bytes.map(hex).join(' ')}` };
    }
  }
  if (b.length < 4) return undefined;
  const [b0, b1, b2, b3] = [b[0], b[1], b[2], b[3]];
  if (b0 === 0 && b1 === 0 && b2 === 0 && b3 !== 0) return { name: 'UTF-32 BE', how: 'it has NUL bytes between its characters' };
  if (b0 !== 0 && b1 === 0 && b2 === 0 && b3 === 0) return { name: 'UTF-32 LE', how: 'it has NUL bytes between its characters' };
  if (b0 === 0 && b1 !== 0 && b2 === 0 && b3 !== 0) return { name: 'UTF-16 BE', how: 'it has NUL bytes between its characters' };
  if (b0 !== 0 && b1 === 0 && b2 !== 0 && b3 === 0) return { name: 'UTF-16 LE', how: 'it has NUL bytes between its characters' };
  return undefined;
}

function hex(x: number): string {
  return x.toString(16).toUpperCase().padStart(2, '0');
}

/**
 * The manifest's text: the bytes decoded as UTF-8, a leading UTF-8 byte-order mark kept (YAML allows
 * it, and keeping it keeps the text's sha256 that of the file). Throws a ManifestError (exit 2) for a
 * file that is too large, UTF-16/32, or not valid UTF-8 (naming the first bad byte and its place).
 */
export function decodeManifest(bytes: Buffer, file: string, size = bytes.length): string {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    const got = size > MAX_MANIFEST_BYTES + 1 ? `${size} bytes` : 'more';
    throw new ManifestError(file, [
      {
        path: '',
        message: `expected a manifest of at most ${MAX_MANIFEST_BYTES} bytes (64 KiB; a manifest is a few KB), got ${got}; is this the right file?`,
      },
    ]);
  }
  const wide = wideEncoding(bytes);
  if (wide) {
    throw new ManifestError(file, [
      { path: '', message: `not UTF-8 (looks like ${wide.name}: ${wide.how}); save it as UTF-8`, line: 1, col: 1 },
    ]);
  }
  const text = bytes.toString('utf8');
  if (isUtf8(bytes)) return text;

  // The decoder replaced each bad sequence with U+FFFD; everything before the first replacement
  // that is not a real U+FFFD (EF BF BD) in the file is valid, so byte offsets add up exactly.
  let offset = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) ?? 0;
    const units = cp > 0xffff ? 2 : 1;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (cp === 0xfffd && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) {
      const col = i - lineStart + 1;
      throw new ManifestError(file, [
        {
          path: '',
          message: `not valid UTF-8: byte 0x${hex(bytes[offset] ?? 0)} at offset ${offset} (line ${line}, column ${col}) is not part of a UTF-8 character; save the file as UTF-8 (was it written as Latin-1 or Windows-1252?)`,
          line,
          col,
        },
      ]);
    }
    if (cp === 0x0a) {
      line += 1;
      lineStart = i + 1;
    }
    offset += len;
    i += units;
  }
  // isUtf8 and the decoder disagree only on inputs neither should see; refuse rather than guess.
  throw new ManifestError(file, [{ path: '', message: 'not valid UTF-8; save the file as UTF-8' }]);
}
