import type { AskVote, VoteAnswer } from './leadership.js';

/** Asks a peer manager for its vote over its HTTP API (`POST /vote`), bounded by `timeoutMs`. */
export function askVoteOverHttp(token: string | undefined, timeoutMs: number): AskVote {
  return async (peer, request) => {
    const response = await fetch(`${peer.url}/vote`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`${peer.id} answered ${response.status}`);
    const answer = (await response.json()) as Partial<VoteAnswer>;
    return { granted: answer.granted === true, supports: String(answer.supports ?? '') };
  };
}
