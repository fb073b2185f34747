import { PolicyDenied, PolicyUnavailable } from '../errors.js';
import type { DecisionRecord } from './types.js';

/** How the policy engine failed to give a usable answer. Every one of these is fail-closed. */
export type EngineFailure =
  | 'refused' // nothing listening at the URL
  | 'timeout' // no complete answer within the client's timeout
  | 'network' // any other transport error (reset, DNS, TLS)
  | 'http_status' // OPA answered with a non-2xx status
  | 'invalid_json' // the body is not JSON
  | 'api_usage_warning' // OPA says the request was malformed (e.g. `input` missing)
  | 'undefined_decision' // no `result`: the policy path is not loaded
  | 'malformed_decision' // a result that is not a decision document
  | 'not_ready'; // /health never turned healthy within the readiness bound

/** PolicyUnavailable (exit 4) that says which way the engine failed. */
export class PolicyEngineUnavailable extends PolicyUnavailable {
  constructor(
    readonly failure: EngineFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** PolicyDenied (exit 3) carrying the decision that denied, so the CLI can print its violations. */
export class PolicyDecisionDenied extends PolicyDenied {
  constructor(readonly decision: DecisionRecord) {
    super(`policy/${decision.domain} denied ${decision.question}: ${decision.reason}`);
  }
}
