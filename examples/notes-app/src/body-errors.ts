/**
 * What reading a request body can fail with, as the API answers it. Every one of these is the client's
 * doing (a corrupt, oversized, unfinished or unreadable body), so each is a 4xx that is never logged as a
 * server failure. body-parser (Express 5) reports its own checks with a `type` (`entity.too.large` ...);
 * a body that does not decompress arrives as zlib's own error, with zlib's `code` and the `status` 400
 * body-parser adds to every failed read, but no `type`.
 */
export interface BodyRejection {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** What body-parser or zlib called the failure (`entity.parse.failed`, `Z_DATA_ERROR` ...), for the log. */
  readonly cause: string;
}

/**
 * zlib's and brotli's codes for input that is not what its Content-Encoding claims: corrupt or truncated
 * data (`Z_BUF_ERROR` is "unexpected end of file"), a deflate stream wanting a preset dictionary, a brotli
 * format error (Node names them `ERR_` + the decoder's `_ERROR_FORMAT_...`). Left out on purpose: zlib's
 * memory, stream and version errors and brotli's allocation errors, which are the server's failures and
 * stay 500s.
 */
const CORRUPT_ENCODING =
  /^(?:Z_DATA_ERROR|Z_BUF_ERROR|Z_NEED_DICT|ERR__ERROR_FORMAT_[A-Z0-9_]+|ERR__ERROR_DICTIONARY_NOT_SET)$/;

/** body-parser's `type`s, answered with their own code; other 4xx types get the generic `bad_request`. */
const BY_TYPE: ReadonlyMap<string, Omit<BodyRejection, 'cause'>> = new Map(
  Object.entries({
    'entity.too.large': { status: 413, code: 'payload_too_large', message: 'The request body is too large' },
    'entity.parse.failed': {
      status: 400,
      code: 'malformed_json',
      message: 'The request body is not valid JSON',
    },
    'encoding.unsupported': {
      status: 415,
      code: 'unsupported_content_encoding',
      message: 'Unsupported Content-Encoding: send the body uncompressed, or as gzip, deflate or br',
    },
    'charset.unsupported': {
      status: 415,
      code: 'unsupported_charset',
      message: 'Unsupported charset: send the body as UTF-8',
    },
    'request.aborted': {
      status: 400,
      code: 'request_aborted',
      message: 'The request body ended before all of it arrived',
    },
  }),
);

interface ParserErrorFields {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly code?: unknown;
  readonly expose?: unknown;
}

/** The client-side body failure `error` is, or undefined when it is something else (a 5xx among them). */
export function bodyRejection(error: unknown): BodyRejection | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status, code, expose } = error as ParserErrorFields;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (typeof type === 'string') {
    const known = BY_TYPE.get(type);
    return known === undefined
      ? { status, code: 'bad_request', message: 'The request body could not be read', cause: type }
      : { ...known, cause: type };
  }
  if (typeof code === 'string' && CORRUPT_ENCODING.test(code)) {
    return {
      status: 400,
      code: 'malformed_body',
      message: 'The request body does not decompress as its Content-Encoding says; check the encoding',
      cause: code,
    };
  }
  // http-errors' own mark of a client error, which body-parser gives every failed read: covers a
  // decompressor whose codes are not listed above (zstd, on Node versions that have it).
  if (expose === true) {
    const cause = typeof code === 'string' ? code : 'unknown';
    return { status, code: 'bad_request', message: 'The request body could not be read', cause };
  }
  return undefined;
}
