/**
 * Names the DB node that answered the request's reads (the router's name for it, from the session's
 * `lastNode`); `none` when it made none.
 */
export const DB_NODE_HEADER = 'X-DB-Node';
