import { ValidateIf } from 'class-validator';

// Named, so the OpenAPI generator can tell the two apart in class-validator's metadata (docs/validation-schema.ts).
export const ifPresent = (_object: object, value: unknown) => value !== undefined;
export const ifNotNull = (_object: object, value: unknown) => value !== undefined && value !== null;

/**
 * An optional field: absent (`undefined`) skips its validators, but an explicit `null` is validated like any
 * other value, and rejected, instead of reaching a service that expects the declared type. class-validator's
 * IsOptional lets null through too; lint forbids it so every DTO says which of the two it means.
 */
export const IfPresent = () => ValidateIf(ifPresent);

/** An optional field that `null` clears (notes, description): absent and null skip its validators. */
export const Nullable = () => ValidateIf(ifNotNull);
