// The sessions one connection opened or resumed: what its chunks and end_session may address (another
// connection's session is unknown to it) and how many it may hold (MAX_SESSIONS_PER_CONNECTION, or a client
// token's lower max_sessions).
import { ErrorCode, ProtocolError } from '../protocol/index.js';

export class ConnectionSessions {
  private readonly ids = new Set<string>();

  /** `limit` is the most sessions open at once; `source` names the setting that set it, for the refusal. */
  constructor(
    readonly limit: number,
    private readonly source: string = 'MAX_SESSIONS_PER_CONNECTION',
  ) {}

  /** Makes `id` this connection's, or refuses with TOO_MANY_SESSIONS (an id it already holds is always fine). */
  add(id: string): void {
    if (this.ids.has(id)) return;
    if (this.ids.size >= this.limit) {
      throw new ProtocolError(
        ErrorCode.TOO_MANY_SESSIONS,
        `start_session: this connection already has ${this.ids.size} open session(s), the most allowed (${this.source}=${this.limit}); end one first`,
      );
    }
    this.ids.add(id);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  delete(id: string): void {
    this.ids.delete(id);
  }

  values(): IterableIterator<string> {
    return this.ids.values();
  }

  get size(): number {
    return this.ids.size;
  }
}

/** The limit for a connection: the server's, lowered by its client token's max_sessions. */
export function connectionSessionLimit(serverLimit: number, tokenLimit: number | undefined): { limit: number; source: string } {
  if (tokenLimit !== undefined && tokenLimit < serverLimit) return { limit: tokenLimit, source: "the token's max_sessions" };
  return { limit: serverLimit, source: 'MAX_SESSIONS_PER_CONNECTION' };
}
