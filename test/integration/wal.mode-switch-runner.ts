// Child process for the wal.* tests (bundled by the test with esbuild, as the CLI is): the file half
// of a promote or rollback through the real code path, under the project lock as the command does it
// after its gate and authorisation (the container half needs Docker): reconcile, then the manifest's
// services.mode line and the re-render, write-ahead. As `rollback` does, a rollback records later
// when the ledger refuses (spool) and exits 7 once the change is made.
//   node <bundle> <manifest> <target mode> [promote|rollback]
import { Output } from '../../src/cli/output.js';
import { EXIT } from '../../src/errors.js';
import { withProjectLock } from '../../src/lifecycle/locking.js';
import { manifestWithMode, writeModeFiles } from '../../src/lifecycle/mode-switch.js';
import { Session } from '../../src/lifecycle/session.js';
import type { AppMode } from '../../src/manifest/schema.js';

const [manifest, target, action = 'promote'] = process.argv.slice(2) as [string, AppMode, 'promote' | 'rollback' | undefined];
const out = new Output({ json: false, color: false });
const session = await Session.open(manifest, { actor: 'wal-test', out, yes: true }, action);
session.recordLater = action === 'rollback';
try {
  await withProjectLock(session, `${action} ${target}`, {}, () => writeModeFiles(session, target, manifestWithMode(session, target)));
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit((err as { exitCode?: number }).exitCode ?? 1);
}
process.stdout.write(`switched to ${target}\n`);
if (session.unrecorded > 0) {
  process.stderr.write(`error: ${session.unrecordedError().message}\n`);
  process.exit(EXIT.HISTORY_UNWRITABLE);
}
