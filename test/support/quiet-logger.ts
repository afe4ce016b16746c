import type { Logger } from '../../src/shared/index.js';

/** A logger that drops everything, for services under test whose logging is not what the test checks. */
export const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => quietLogger,
};
