import { join } from 'node:path';
import { undocumentedErrorCodes } from '@netlab/shared/testing';
import { dynamicErrorCodes } from '../src/errors';

describe('error codes', () => {
  it('documents every code of src/errors.ts in README.md', () => {
    expect(
      undocumentedErrorCodes(Object.keys(dynamicErrorCodes), join(__dirname, '..', 'README.md')),
    ).toEqual([]);
  });

  it('gives every code an HTTP error status and a title', () => {
    for (const spec of Object.values(dynamicErrorCodes)) {
      expect(spec.httpStatus).toBeGreaterThanOrEqual(400);
      expect(spec.title.length).toBeGreaterThan(0);
    }
  });
});
