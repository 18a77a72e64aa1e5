import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ValidationProblem } from '@tidings/runtime';

// Constraints on the type of a value. When one fails, the value's range and length checks fail too but say
// nothing true about it (`limit=abc` "must not be greater than 100"): only the type problem is reported.
const TYPE_CONSTRAINTS = new Set(['isInt', 'isNumber', 'isString', 'isArray', 'isBoolean', 'isObject']);

function messages(constraints: Record<string, string> = {}): string[] {
  const type = Object.keys(constraints).filter((name) => TYPE_CONSTRAINTS.has(name));
  return (type.length > 0 ? type : Object.keys(constraints)).map((name) => constraints[name]);
}

function flatten(errors: ValidationError[], parent = ''): { field: string; message: string }[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = messages(e.constraints).map((message) => ({ field, message }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/**
 * DTO validation for every route: unknown fields are rejected (not silently dropped), values are
 * transformed to their declared types, and failures become a 400 problem with one entry per field.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => {
      return new ValidationProblem(flatten(errors));
    },
  });
}
