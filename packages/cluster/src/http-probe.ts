import { callApi } from '@rwsplit/failover';

/**
 * Status of a GET, or undefined if nothing answered within the timeout. An `https:` URL is checked
 * against `ca` (the cluster CA), never accepted unverified.
 */
export function httpStatus(url: string, timeoutMs = 1_000, ca?: string): Promise<number | undefined> {
  return callApi(url, { timeoutMs, ca }).then(
    (answer) => answer.status,
    () => undefined,
  );
}
