import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { ifNotNull, ifPresent } from '../http/optional.validator';

/** What the DTO's validators accept for one property, as JSON Schema. */
export interface PropertyRule {
  schema: SchemaObject;
  optional: boolean;
  nullable: boolean;
}

type Keyword = (constraints: unknown[]) => SchemaObject;

const num = (value: unknown) => value as number;

// class-validator's built-in constraints as JSON Schema keywords. Custom validators (ValidateBy, registerDecorator)
// carry their own schema as their first constraint (IsStringMap, IsTimestamp, the event-type checks).
const KEYWORDS: Record<string, Keyword> = {
  isString: () => ({ type: 'string' }),
  isInt: () => ({ type: 'integer' }),
  isBoolean: () => ({ type: 'boolean' }),
  isArray: () => ({ type: 'array' }),
  isLength: ([min, max]) => ({ minLength: num(min), ...(max === undefined ? {} : { maxLength: num(max) }) }),
  minLength: ([min]) => ({ minLength: num(min) }),
  maxLength: ([max]) => ({ maxLength: num(max) }),
  // Bytes of UTF-8: never fewer characters than bytes, so the byte bounds bound the length in characters too.
  isByteLength: ([min, max]) => ({
    minLength: num(min),
    maxLength: num(max),
    description: `${String(min)} to ${String(max)} bytes of UTF-8`,
  }),
  matches: ([pattern]) => ({ pattern: (pattern as RegExp).source }),
  min: ([min]) => ({ minimum: num(min) }),
  max: ([max]) => ({ maximum: num(max) }),
  arrayMinSize: ([min]) => ({ minItems: num(min) }),
  arrayMaxSize: ([max]) => ({ maxItems: num(max) }),
  isIn: ([values]) => ({ enum: values as unknown[] }),
};

function keyword(m: ValidationMetadata): SchemaObject {
  const known = m.name === undefined ? undefined : KEYWORDS[m.name];
  if (known) return known(m.constraints ?? []);
  const [own] = (m.constraints ?? []) as unknown[];
  if (typeof own === 'object' && own !== null && !(own instanceof RegExp)) return own as SchemaObject;
  // A validator the document cannot describe would make the document lie: fail the build of it instead.
  throw new Error(`No JSON Schema for validator ${m.name ?? m.type} on ${String(m.propertyName)}`);
}

/** Merges keywords, the later winning, except `description`, which accumulates. */
function merge(into: SchemaObject, from: SchemaObject): SchemaObject {
  const description = [into.description, from.description].filter(Boolean).join('. ');
  return { ...into, ...from, ...(description ? { description } : {}) };
}

/**
 * The rules class-validator applies to each property of a DTO (inherited ones included), as JSON Schema: the
 * validators are the one source of these rules; the OpenAPI document is derived from them.
 */
export function validationRules(target: new (...args: never[]) => unknown): Map<string, PropertyRule> {
  const rules = new Map<string, PropertyRule>();
  const metadata = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
  for (const m of metadata) {
    const rule = rules.get(m.propertyName) ?? { schema: {}, optional: false, nullable: false };
    rules.set(m.propertyName, rule);
    if (m.type === 'conditionalValidation') {
      const [condition] = m.constraints as unknown[];
      if (condition === ifPresent) rule.optional = true;
      else if (condition === ifNotNull) rule.optional = rule.nullable = true;
      else
        throw new Error(`Unknown condition on ${target.name}.${m.propertyName}: use IfPresent or Nullable`);
      continue;
    }
    if (m.type === 'nestedValidation') continue; // the property's $ref describes the nested DTO
    const schema = keyword(m);
    if (m.each) rule.schema.items = merge((rule.schema.items ?? {}) as SchemaObject, schema);
    else rule.schema = merge(rule.schema, schema);
  }
  return rules;
}

const NON_EMPTY = 'tidings:non-empty-body';

/**
 * Documents a body that must name at least one field (`minProperties: 1`; the body is then required): for
 * DTOs whose service refuses a request that changes nothing.
 */
export const ApiNonEmptyBody = (): ClassDecorator => (target) =>
  Reflect.defineMetadata(NON_EMPTY, true, target);

export function isNonEmptyBody(target: object): boolean {
  return Reflect.getMetadata(NON_EMPTY, target) === true;
}

export function hasValidationRules(target: unknown): target is new (...args: never[]) => unknown {
  return (
    typeof target === 'function' &&
    getMetadataStorage().getTargetValidationMetadatas(target, '', true, false).length > 0
  );
}

/** A property's generated schema with the validators' rules applied (the validators win). */
export function applyRule(generated: SchemaObject, rule: PropertyRule): SchemaObject {
  const { items, ...rest } = rule.schema;
  const schema = merge(generated, rest);
  if (items) schema.items = merge((generated.items ?? {}) as SchemaObject, items as SchemaObject);
  // OpenAPI 3.0's `nullable`: normalised to a 3.1 type array with the rest of the document.
  if (rule.nullable) schema.nullable = true;
  else delete schema.nullable;
  return schema;
}
