// Child process for wal.kill.test.ts (bundled by the test with esbuild, as the CLI is): the file half
// of a promote through the real code path, under the project lock as `promote <target>` does it after
// its gate and authorisation (the container half needs Docker): reconcile, then the manifest's
// services.mode line and the re-render, write-ahead.
//   node <bundle> <manifest> <target mode>
import { Output } from '../../src/cli/output.js';
import { withProjectLock } from '../../src/lifecycle/locking.js';
import { manifestWithMode, writeModeFiles } from '../../src/lifecycle/mode-switch.js';
import { Session } from '../../src/lifecycle/session.js';
import type { AppMode } from '../../src/manifest/schema.js';

const [manifest, target] = process.argv.slice(2) as [string, AppMode];
const out = new Output({ json: false, color: false });
const session = await Session.open(manifest, { actor: 'kill-test', out, yes: true }, 'promote');
await withProjectLock(session, `promote ${target}`, {}, () => writeModeFiles(session, target, manifestWithMode(session, target)));
process.stdout.write(`switched to ${target}\n`);
