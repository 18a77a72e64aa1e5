import { registerDecorator, type ValidationOptions } from 'class-validator';

const MAX_KEYS = 50;
const MAX_KEY_LENGTH = 64;
const MAX_VALUE_LENGTH = 512;

/** The same rule as JSON Schema, for the OpenAPI document (read from the validator's constraints). */
export const STRING_MAP_SCHEMA = {
  type: 'object',
  maxProperties: MAX_KEYS,
  propertyNames: { minLength: 1, maxLength: MAX_KEY_LENGTH },
  additionalProperties: { type: 'string', maxLength: MAX_VALUE_LENGTH },
};

/** A flat object of string values (metadata): at most 50 keys of ≤ 64 chars, values ≤ 512 chars. */
export function IsStringMap(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName,
      constraints: [STRING_MAP_SCHEMA],
      options: {
        message: `${propertyName} must be an object of at most 50 string values (keys ≤ 64, values ≤ 512 characters)`,
        ...options,
      },
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.keys(value).length <= MAX_KEYS &&
          Object.entries(value).every(
            ([k, v]) =>
              k.length > 0 &&
              k.length <= MAX_KEY_LENGTH &&
              typeof v === 'string' &&
              v.length <= MAX_VALUE_LENGTH,
          ),
      },
    });
}
