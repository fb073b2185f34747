import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/render/atomic-write.js';

/**
 * writeFileAtomic under failure: real child processes killed between steps, real concurrent
 * writers. The children run the built module (dist/), as the CLI does.
 */
const MODULE = new URL('../../dist/render/atomic-write.js', import.meta.url).href;

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-atomic-'));
  temps.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs `body` in a fresh node process with `writeFileAtomic` imported from dist/. */
function child(body: string, args: string[]) {
  const script = `import { writeFileAtomic } from ${JSON.stringify(MODULE)};\nconst [file, arg] = process.argv.slice(1);\n${body}`;
  return execa(process.execPath, ['--input-type=module', '-e', script, ...args], { reject: false });
}

describe('writeFileAtomic', () => {
  it('a process killed after the temp file is complete, before the rename, leaves the old file intact', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'docker-compose.yml');
    const old = `old\n${'o'.repeat(100_000)}\n`;
    await writeFile(file, old);

    const r = await child(
      `await writeFileAtomic(file, 'new\\n' + 'n'.repeat(100000) + '\\n', { beforeRename: () => process.kill(process.pid, 'SIGKILL') });
       console.log('not reached');`,
      [file],
    );
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout).toBe('');
    expect(await readFile(file, 'utf8')).toBe(old);

    // The temp file was in the same directory (so the rename is atomic) and was already complete.
    const leftovers = (await readdir(dir)).filter((n) => n !== 'docker-compose.yml');
    expect(leftovers).toHaveLength(1);
    expect(leftovers[0]).toMatch(/^\.docker-compose\.yml\.\d+\.[0-9a-f]{8}\.tmp$/);
    expect(await readFile(path.join(dir, leftovers[0]!), 'utf8')).toBe(`new\n${'n'.repeat(100_000)}\n`);

    // The killed writer is gone: the next write of the same file removes what it left.
    await writeFileAtomic(file, 'next\n');
    expect(await readdir(dir)).toEqual(['docker-compose.yml']);
    expect(await readFile(file, 'utf8')).toBe('next\n');
  });

  it('the same write without the kill replaces the file and leaves no temp file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nginx.conf');
    await writeFile(file, 'old\n');
    const r = await child(`await writeFileAtomic(file, arg);`, [file, 'new\n']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readdir(dir)).toEqual(['nginx.conf']);
  });

  it('a failure before the rename removes the temp file and keeps the old file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nginx.conf');
    await writeFile(file, 'old\n');
    let seenTemp = '';
    await expect(
      writeFileAtomic(file, 'new\n', {
        beforeRename: (temp) => {
          seenTemp = temp;
          throw new Error('disk on fire');
        },
      }),
    ).rejects.toThrow('disk on fire');
    expect(path.dirname(seenTemp)).toBe(dir);
    expect(await readFile(file, 'utf8')).toBe('old\n');
    expect(await readdir(dir)).toEqual(['nginx.conf']);
  });

  it('concurrent writers in separate processes never produce a mix; a reader only ever sees a whole file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'docker-compose.yml');
    const size = 256 * 1024;
    const whole = (letter: string) => `${letter.repeat(size)}\nend ${letter}\n`;
    await writeFile(file, whole('s'));
    const letters = ['a', 'b', 'c', 'd'];
    const writers = letters.map((letter) =>
      child(
        `const content = arg.repeat(${size}) + '\\nend ' + arg + '\\n';
         for (let i = 0; i < 25; i++) await writeFileAtomic(file, content);`,
        [file, letter],
      ),
    );
    let done = false;
    const finished = Promise.all(writers).finally(() => {
      done = true;
    });
    const valid = new Set(['s', ...letters].map(whole));
    let reads = 0;
    const seen = new Set<string>();
    while (!done) {
      const content = await readFile(file, 'utf8');
      reads++;
      if (!valid.has(content)) {
        throw new Error(`read ${reads} saw a mixed or partial file: ${content.length} bytes, starts ${JSON.stringify(content.slice(0, 8))}, ends ${JSON.stringify(content.slice(-8))}`);
      }
      seen.add(content.slice(-2, -1));
    }
    for (const r of await finished) expect(r.exitCode, r.stderr).toBe(0);
    expect(valid.has(await readFile(file, 'utf8'))).toBe(true);
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['docker-compose.yml']);
    console.log(`atomic-write: ${reads} reads during 4 x 25 concurrent writes saw ${seen.size} distinct whole files`);
  }, 60_000);
});
