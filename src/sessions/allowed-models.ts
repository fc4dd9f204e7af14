// Which model a new session may use: the server's ALLOWED_MODELS (default: the engine's own model alone), narrowed
// by the connection's client token. Checked at start_session, so a model the provider would refuse never reaches it.
import { ErrorCode, ProtocolError } from '../protocol/index.js';

export interface ModelPolicy {
  /** Models sessions may name, in the operator's order. */
  allowed: readonly string[];
  /** The engine's own model: what a session that names none runs with, when allowed. */
  engineDefault: string;
}

/** ALLOWED_MODELS as configured, or the engine's own model alone when it is unset. */
export function modelPolicy(configured: readonly string[], engineModel: string): ModelPolicy {
  return { allowed: configured.length > 0 ? [...new Set(configured)] : [engineModel], engineDefault: engineModel };
}

/**
 * The model a session runs with: undefined for the engine's own, or a name from the allowed list. `token` is the
 * connection's client token narrowing the list (its `models`). Throws INVALID_MODEL naming what is allowed.
 */
export function chooseModel(requested: string | undefined, policy: ModelPolicy, token: { models?: readonly string[] } = {}): string | undefined {
  const allowed = token.models ? policy.allowed.filter((model) => token.models!.includes(model)) : policy.allowed;
  if (requested === undefined) {
    if (allowed.includes(policy.engineDefault)) return undefined;
    if (allowed.length > 0) return allowed[0];
    throw new ProtocolError(ErrorCode.INVALID_MODEL, "start_session: this connection's token allows none of the server's models; ask your backend for another token");
  }
  if (allowed.includes(requested)) return requested;
  const list = allowed.length > 0 ? allowed.map((model) => `"${model}"`).join(', ') : 'none';
  const by = token.models ? "this server and this connection's token allow" : 'this server allows';
  throw new ProtocolError(ErrorCode.INVALID_MODEL, `start_session: model "${clip(requested)}" is not allowed; ${by}: ${list}`);
}

/** A client's text echoed in a message: bounded, and printable. */
function clip(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}
