// Child process for history.concurrency.test.ts; imports the compiled ledger from argv[2].
//   append <file> <count> <actor>   print "ready", wait for a line on stdin, append <count> records,
//                                   then print "<first append start ms> <last append end ms>"
//   hold <file>                     take the history lock, print "locked", and never release it
const [buildDir, mode, file, count, actor] = process.argv.slice(2);
const { appendRecord, lockPathFor } = await import(`${buildDir}/history/ledger.js`);
const { withFileLock } = await import(`${buildDir}/history/lock.js`);

if (mode === 'append') {
  // Start together: an append takes about a millisecond, less than a process takes to start.
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
  const started = Date.now();
  for (let i = 1; i <= Number(count); i++) {
    await appendRecord(file, {
      kind: 'event',
      actor,
      policy_version: null,
      manifest_sha256: null,
      payload: { action: 'policy_check', stage: 'executed', detail: `${actor} #${i}` },
    });
  }
  process.stdout.write(`${started} ${Date.now()}\n`);
} else if (mode === 'hold') {
  await withFileLock(lockPathFor(file), async () => {
    process.stdout.write('locked\n');
    await new Promise(() => {});
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
