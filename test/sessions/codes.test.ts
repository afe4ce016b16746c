import { describe, expect, it } from 'vitest';
import { SESSION_ERROR_CODES, TOKEN_ERROR_CODES } from '../../src/shared/index.js';
import { sessionErrors } from '../../src/sessions/index.js';
import { tokenErrors } from '../../src/tokens/index.js';

describe('the error codes clients branch on', () => {
  it('are exactly the session and token catalogues', () => {
    expect([...SESSION_ERROR_CODES].sort()).toEqual(Object.keys(sessionErrors.catalogue).sort());
    expect([...TOKEN_ERROR_CODES].sort()).toEqual(Object.keys(tokenErrors.catalogue).sort());
  });
});
