import { registerDecorator, type ValidationOptions } from 'class-validator';

/** A flat object of string values (metadata): at most 50 keys of ≤ 64 chars, values ≤ 512 chars. */
export function IsStringMap(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be an object of at most 50 string values (keys ≤ 64, values ≤ 512 characters)`,
        ...options,
      },
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.keys(value).length <= 50 &&
          Object.entries(value).every(
            ([k, v]) => k.length > 0 && k.length <= 64 && typeof v === 'string' && v.length <= 512,
          ),
      },
    });
}
