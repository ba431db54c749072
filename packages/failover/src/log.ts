/** One decision or event, as one JSON line: what a log pipeline and a person reading it both need. */
export interface LogEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export type Logger = (level: 'info' | 'warn' | 'error', entry: LogEvent) => void;

/** JSON lines on a stream (stdout by default): time, level, manager id, then the event's fields. */
export function jsonLogger(
  manager: string,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  return (level, entry) => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, manager, ...entry })}\n`);
  };
}
