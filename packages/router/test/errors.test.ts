import { describe, expect, it } from 'vitest';
import {
  AcquireTimeoutError,
  CallbackApiError,
  HintRefusedError,
  InvalidArgumentError,
  InvalidOptionError,
  NoReplicaAvailableError,
  PrimaryUnavailableError,
  QueryFailedError,
  ReplicaUnavailableError,
  RouterClosedError,
  RwsplitError,
  SessionReleasedError,
  SessionStateError,
  StatementTimeoutError,
  TransactionEndedError,
  TransactionResolutionUnknownError,
  WriteOutcomeUnknownError,
} from '../src/index.js';

const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', errno: -111 });

describe('error taxonomy', () => {
  it.each([
    [new InvalidOptionError('pool.max', 'bad'), 'RWSPLIT_INVALID_OPTION', false],
    [new InvalidArgumentError('bad'), 'RWSPLIT_INVALID_ARGUMENT', false],
    [new PrimaryUnavailableError('db-primary', 'ECONNREFUSED', cause), 'RWSPLIT_PRIMARY_UNAVAILABLE', true],
    [new ReplicaUnavailableError('db-replica-1', 'ECONNREFUSED', cause), 'RWSPLIT_REPLICA_UNAVAILABLE', true],
    [new NoReplicaAvailableError(), 'RWSPLIT_NO_REPLICA', true],
    [new AcquireTimeoutError('db-primary', 100), 'RWSPLIT_ACQUIRE_TIMEOUT', true],
    [new QueryFailedError('db-replica-1', cause), 'RWSPLIT_QUERY_FAILED', true],
    [
      new WriteOutcomeUnknownError('db-primary', 'connection lost', cause),
      'RWSPLIT_WRITE_OUTCOME_UNKNOWN',
      false,
    ],
    [new WriteOutcomeUnknownError('db-primary', 'deadline passed'), 'RWSPLIT_WRITE_OUTCOME_UNKNOWN', false],
    [new StatementTimeoutError('db-replica-1', 1_000), 'RWSPLIT_STATEMENT_TIMEOUT', true],
    [new CallbackApiError('getConnection'), 'RWSPLIT_CALLBACK_API', false],
    [new HintRefusedError('INSERT', 'write', 'hint'), 'RWSPLIT_HINT_REFUSED', false],
    [new SessionStateError('SET'), 'RWSPLIT_SESSION_STATE', false],
    [new SessionReleasedError(), 'RWSPLIT_SESSION_RELEASED', false],
    [new TransactionEndedError(), 'RWSPLIT_TRANSACTION_ENDED', false],
    [new TransactionResolutionUnknownError('db-primary', cause), 'RWSPLIT_TRANSACTION_UNKNOWN', false],
    [new RouterClosedError(), 'RWSPLIT_CLOSED', false],
  ])('%s has a stable code, says whether a retry may help, and what to do', (error, code, retryable) => {
    expect(error).toBeInstanceOf(RwsplitError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.name).toBe(error.constructor.name);
    // Every message ends with advice: a second sentence after saying what went wrong.
    expect(error.message.split('. ').length).toBeGreaterThan(1);
  });

  it('keeps the driver error as cause, with its code and errno reachable, and names the node', () => {
    const error = new PrimaryUnavailableError('db-primary', 'ECONNREFUSED', cause);
    expect(error.cause).toBe(cause);
    expect((error.cause as typeof cause).code).toBe('ECONNREFUSED');
    expect(error.node).toBe('db-primary');
    expect(new RouterClosedError().node).toBeUndefined();
    expect(new RouterClosedError().cause).toBeUndefined();
  });
});
