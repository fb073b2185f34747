/**
 * A Docker CLI for the swarm replica scraper on a RecordingRunner: `docker service ps` lists the
 * given tasks, `docker ps` this node's containers of them, and each `docker exec <container> node -e
 * <script> <port> <ms>` runs the real script with the real node against a real server on 127.0.0.1
 * (the container's port rewritten to that server's), so the script the container runs is tested.
 */
import { runArgv } from '../../src/runtime/run.js';
import { RecordingRunner } from './recording-runner.js';

export interface ScriptedTask {
  id: string;
  name: string;
  node: string;
  /** Swarm's CurrentState, e.g. "Running 2 minutes ago". */
  state: string;
  /** The container on this node, and the base URL of the server that plays it; absent: no container here. */
  container?: { id: string; url: string };
}

export function replicaDockerCli(tasks: () => readonly ScriptedTask[], r = new RecordingRunner()): RecordingRunner {
  r.on(['docker', 'service', 'ps'], () => ({
    stdout: tasks()
      .map((t) => JSON.stringify({ ID: t.id, Name: t.name, Image: 'swiftdeploy-app:1', Node: t.node, DesiredState: 'Running', CurrentState: t.state }))
      .join('\n'),
  }));
  r.on(['docker', 'ps'], () => ({
    stdout: tasks()
      .flatMap((t) => (t.container ? [`${t.container.id} ${t.id}`] : []))
      .join('\n'),
  }));
  r.on(['docker', 'exec'], async (argv) => {
    const task = tasks().find((t) => t.container?.id === argv[2]);
    if (!task?.container) return { exitCode: 1, stderr: `Error: No such container: ${argv[2]}` };
    const inner = [...argv.slice(3)];
    inner[inner.length - 2] = new URL(task.container.url).port;
    const res = await runArgv(inner, { timeoutMs: 10_000 });
    return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
  });
  return r;
}
