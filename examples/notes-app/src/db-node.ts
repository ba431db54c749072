/**
 * Names the DB node that answered the request's reads (the router's name for it, from the session's
 * `lastNode`); `none` when it made none.
 */
export const DB_NODE_HEADER = 'X-DB-Node';

/**
 * On a write (POST, PATCH, DELETE): the node that took it. A write's answer is read back on a node of
 * its own, usually a replica, so `X-DB-Node` alone would credit the write to the node of its read-back.
 */
export const DB_WRITE_NODE_HEADER = 'X-DB-Write-Node';
