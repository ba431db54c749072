/** Keyset pagination cursor: the last id of a page, opaque to clients (base64url of `v1:<id>`). */
export function encodeCursor(id: number): string {
  return Buffer.from(`v1:${id}`, 'utf8').toString('base64url');
}

/** The id a cursor points at, or undefined when it is not one we issued. */
export function decodeCursor(cursor: string): number | undefined {
  const match = /^v1:([1-9]\d{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1]) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}
