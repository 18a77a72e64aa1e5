import { ApiProperty } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import type { Resource } from '../resources/resource';

type Dto = new () => object;
/** What the document needs of a resource (resource.ts). */
type View = Pick<Resource, 'viewSchema'>;

// Every view DTO made by resourceDtos, by its component name: the document replaces their schemas (openapi.ts).
const VIEWS = new Map<string, View>();

/**
 * The JSON Schema of a resource's view, derived from its state schema (resource.ts): dates are date-time text,
 * the `.meta()` of each field (example, description) is kept, and objects stay open, so a field added to the
 * state later does not break clients generated from today's document.
 */
export function viewJsonSchema(def: View): SchemaObject {
  const schema = z.toJSONSchema(def.viewSchema, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema instanceof z.ZodDate) Object.assign(jsonSchema, { type: 'string', format: 'date-time' });
      if (jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
      // Record keys are always strings in JSON; z.int()'s bounds only say "a JSON-safe integer".
      if (zodSchema instanceof z.ZodRecord) delete jsonSchema.propertyNames;
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
    },
  }) as SchemaObject & { $schema?: string };
  delete schema.$schema;
  return schema;
}

function named(name: string): Dto {
  return { [name]: class {} }[name];
}

/**
 * The response DTOs of a resource for @nestjs/swagger: `<Name>Dto`, whose schema in the document is the view's
 * (viewJsonSchema), and `<Name>PageDto`, a page of them as every list endpoint returns it.
 */
export function resourceDtos(def: View, name: string): { view: Dto; page: Dto } {
  const view = named(`${name}Dto`);
  if (VIEWS.has(view.name)) throw new Error(`${view.name} is declared twice`);
  VIEWS.set(view.name, def);
  const page = named(`${name}PageDto`);
  ApiProperty({ type: [view] })(page.prototype, 'data');
  ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })(
    page.prototype,
    'nextCursor',
  );
  return { view, page };
}

/** Puts each resource view's derived schema in the document, where @nestjs/swagger left an empty one. */
export function applyViewSchemas(schemas: Record<string, unknown>): void {
  for (const [name, def] of VIEWS) if (name in schemas) schemas[name] = viewJsonSchema(def);
}
