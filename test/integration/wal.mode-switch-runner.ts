// Child process for the wal.* tests (bundled by the test with esbuild, as the CLI is): the file half
// of a promote or rollback through the real code path, under the project lock as the command does it
// after its gate and authorisation (the container half needs Docker): reconcile, then the manifest's
// services.mode line and the re-render, write-ahead. As `rollback` does, a rollback records later
// when the ledger refuses (spool), and exits 7 once the change is made (as withProjectLock makes it).
//   node <bundle> <manifest> <target mode> [promote|rollback] [refuse-outcomes]
// refuse-outcomes: the real ledger, except that every record after the intent is refused as a disk
// that filled up between two appends would refuse it.
import { Output } from '../../src/cli/output.js';
import { eventRenderer } from '../../src/cli/render-events.js';
import { HistoryUnwritable } from '../../src/errors.js';
import type { EventPayload, RecordInput } from '../../src/history/types.js';
import { withProjectLock } from '../../src/lifecycle/locking.js';
import { manifestWithMode, writeModeFiles } from '../../src/lifecycle/mode-switch.js';
import { Session } from '../../src/lifecycle/session.js';
import type { AppMode } from '../../src/manifest/schema.js';

const [manifest, target, action = 'promote', mode] = process.argv.slice(2) as [string, AppMode, 'promote' | 'rollback' | undefined, string | undefined];
const out = new Output({ json: false, color: false });
const session = await Session.open(manifest, { actor: 'wal-test', events: eventRenderer(out), yes: true }, action);
session.recordLater = action === 'rollback';
if (mode === 'refuse-outcomes') {
  const real = session.recorder;
  Object.defineProperty(session, 'recorder', {
    value: {
      append: (input: RecordInput) =>
        (input.payload as EventPayload).stage === 'intent' ? real.append(input) : Promise.reject(new HistoryUnwritable('cannot append: ENOSPC (test)')),
    },
  });
}
try {
  await withProjectLock(session, `${action} ${target}`, {}, async () => {
    await writeModeFiles(session, target, manifestWithMode(session, target));
    process.stdout.write(`switched to ${target}\n`);
  });
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit((err as { exitCode?: number }).exitCode ?? 1);
}
