/**
 * Where the router reports topology changes and decisions it made on its own (replica out of rotation,
 * primary changed, close() gave up waiting). Default: nowhere (no console output from a library). Its
 * own module, so options can name it without importing the monitor.
 */
export interface TopologyLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}
