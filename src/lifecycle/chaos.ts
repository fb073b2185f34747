import path from 'node:path';
import { Agent, request } from 'undici';
import { EXIT, OperationFailed, type ExitCode } from '../errors.js';
import { CHAOS_TOKEN_FILE, readChaosToken } from '../runtime/chaos-token.js';
import { Session, type Operator } from './session.js';

export type ChaosCommand = { mode: 'slow'; duration: number } | { mode: 'error'; rate: number } | { mode: 'recover' };

/** POST /chaos through nginx with the project's token; recorded, since it changes what users see. */
export async function chaos(manifestPath: string, operator: Operator, command: ChaosCommand): Promise<ExitCode> {
  const session = await Session.open(manifestPath, operator, 'chaos');
  const tokenFile = path.join(session.stateDir, CHAOS_TOKEN_FILE);
  const token = await readChaosToken(session.stateDir);
  if (!token) throw new OperationFailed(`no chaos token at ${tokenFile}: deploy the stack first`);
  const url = session.nginxUrl('/chaos');
  const agent = new Agent({ pipelining: 0 });
  let status: number;
  let body: string;
  try {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      signal: AbortSignal.timeout(5000),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, connection: 'close' },
      body: JSON.stringify(command),
    });
    status = res.statusCode;
    body = await res.body.text();
  } catch (err) {
    throw new OperationFailed(`cannot reach ${url}: ${(err as Error).message}`);
  } finally {
    await agent.close();
  }
  const what = command.mode === 'slow' ? `slow ${command.duration}s` : command.mode === 'error' ? `error rate ${command.rate}` : 'recover';
  if (status !== 200) {
    await session.event('failed', { detail: `chaos ${what}: HTTP ${status} ${body.slice(0, 200)}` });
    throw new OperationFailed(`chaos ${what}: the app answered HTTP ${status}: ${body.slice(0, 200)}`);
  }
  // The app's 200 is its acknowledgement that the new chaos state is in force.
  await session.event('confirmed', { detail: `chaos ${what}`, chaos: command });
  session.out.result(`chaos ${what}: accepted`);
  session.out.emit({ ok: true, action: 'chaos', chaos: command, response: safeJson(body) });
  return EXIT.OK;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
