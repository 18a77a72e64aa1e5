import { ValidateIf } from 'class-validator';

/**
 * An optional field: absent (`undefined`) skips its validators, but an explicit `null` is validated like any
 * other value, and rejected, instead of reaching a service that expects the declared type. class-validator's
 * IsOptional lets null through too; lint forbids it so every DTO says which of the two it means.
 */
export const IfPresent = () => ValidateIf((_object, value) => value !== undefined);

/** An optional field that `null` clears (notes, description): absent and null skip its validators. */
export const Nullable = () => ValidateIf((_object, value) => value !== undefined && value !== null);
