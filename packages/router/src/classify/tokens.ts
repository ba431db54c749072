// Token kinds, as plain numbers: they are compared for every token, and reading a field of an
// object (`Tok.Word`) costs a load each time where a constant costs nothing.
/** The end of the text, or of what could be read of it (see Lexer.broken). */
export const TOK_END = 0;
/** An unquoted word: keyword, identifier or number. */
export const TOK_WORD = 1;
/** '...' or "..." */
export const TOK_STRING = 2;
/** `...` */
export const TOK_IDENT = 3;
/** @name, @'name', @"name", @`name` (also a `@@` with no plain name after it) */
export const TOK_USER_VAR = 4;
/** @@name, @@session.name ... */
export const TOK_SYS_VAR = 5;
export const TOK_LPAREN = 6;
export const TOK_RPAREN = 7;
export const TOK_SEMI = 8;
/** := */
export const TOK_ASSIGN = 9;
export const TOK_DOT = 10;
/** Any other punctuation: , = < + * ? ... */
export const TOK_OTHER = 11;

export type Tok =
  | typeof TOK_END
  | typeof TOK_WORD
  | typeof TOK_STRING
  | typeof TOK_IDENT
  | typeof TOK_USER_VAR
  | typeof TOK_SYS_VAR
  | typeof TOK_LPAREN
  | typeof TOK_RPAREN
  | typeof TOK_SEMI
  | typeof TOK_ASSIGN
  | typeof TOK_DOT
  | typeof TOK_OTHER;
