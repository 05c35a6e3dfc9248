// Named errors: Step Functions Retry and Catch match on each class's literal name, which must survive minification.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../../lambdas/core/errors';

const source = readFileSync(new URL('../../lambdas/core/errors.ts', import.meta.url), 'utf8');

describe('core errors', () => {
  it.each(Object.entries(errors))('%s carries its own name as a literal', (exportName, ErrorClass) => {
    // Act
    const error = new (ErrorClass as new (message: string) => Error)('boom');

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(exportName);
    expect(error.name).toMatch(/Error$/);
    expect(error.message).toBe('boom');
  });

  it.each(Object.keys(errors))('%s sets its name as a string literal, not from constructor.name', (exportName) => {
    // Prepare
    const declaration = new RegExp(`class ${exportName} extends Error \\{[^}]*?readonly name = '([A-Za-z]+)'`);

    // Act
    const literal = declaration.exec(source)?.[1];

    // Assess
    expect(literal).toBe(exportName);
  });

  it('keeps every issue of a SpecValidationError, or the message as the only one', () => {
    expect(new errors.SpecValidationError('Canary: a; b', ['a', 'b']).issues).toEqual(['a', 'b']);
    expect(new errors.SpecValidationError('Canary: a').issues).toEqual(['Canary: a']);
  });
});
