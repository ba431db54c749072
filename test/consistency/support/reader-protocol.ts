/** The JSON-lines protocol between a test and `reader.ts`, one object per line each way. */
import type { RouterConfig } from '@rwsplit/router';

export type ReaderConsistency = 'eventual' | 'session' | 'strong';

/** Passed in the environment (`RWSPLIT_READER_CONFIG`), JSON. */
export interface ReaderConfig {
  readonly router: RouterConfig;
}

export type ReaderRequest =
  | {
      readonly seq: number;
      readonly op: 'read';
      /** The pair id to read back. */
      readonly id: number;
      readonly token?: string;
      readonly consistency?: ReaderConsistency;
    }
  | { readonly seq: number; readonly op: 'topology' };

export type ReaderReply =
  | { readonly ready: true }
  | { readonly seq: number; readonly serverId: number; readonly found: boolean }
  | { readonly seq: number; readonly topology: unknown[] }
  | { readonly seq: number; readonly error: { name: string; code?: string; message: string } };

export const READER_CONFIG_ENV = 'RWSPLIT_READER_CONFIG';
