import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ProblemError } from '@tidings/runtime';

function flatten(errors: ValidationError[], parent = ''): { field: string; message: string }[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
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
      const fields = flatten(errors);
      return new ProblemError(
        400,
        'Validation Failed',
        fields.map((f) => `${f.field}: ${f.message}`).join('; '),
        { errors: fields },
      );
    },
  });
}
