import { callApi } from './api-client.js';
import type { AskVote, VoteAnswer } from './leadership.js';

/**
 * Asks a peer manager for its vote over its API (`POST /vote`), bounded by `timeoutMs`; an `https:`
 * peer must present a certificate from `ca`.
 */
export function askVoteOverHttp(token: string | undefined, timeoutMs: number, ca?: string): AskVote {
  return async (peer, request) => {
    const answer = await callApi(`${peer.url}/vote`, { method: 'POST', token, body: request, ca, timeoutMs });
    if (answer.status !== 200) throw new Error(`${peer.id} answered ${answer.status}`);
    const vote = (answer.body ?? {}) as Partial<VoteAnswer>;
    return { granted: vote.granted === true, supports: String(vote.supports ?? '') };
  };
}
