import { type INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type {
  OperationObject,
  ParameterObject,
  PathItemObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { defaultScope } from '@tidings/db';
import { ENVELOPE_FIELDS, type EnvelopeField, listEventTypes } from '@tidings/events';
import { ApiModule } from '../api.module';
import { PUBLIC_KEY, SCOPE_KEY } from '../auth/tenant.decorator';
import { applyViewSchemas } from './resource-schema';
import { applyRule, hasValidationRules, isNonEmptyBody, validationRules } from './validation-schema';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type HttpMethod = (typeof HTTP_METHODS)[number];

/** RFC 9457 problem details, the body of every error response (the runtime's ProblemFilter). */
const PROBLEM_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri', example: 'https://tidings.dev/problems/not-found' },
    title: { type: 'string', example: 'Not Found' },
    status: { type: 'integer', example: 404 },
    detail: { type: 'string', example: 'Order ord_123 does not exist' },
    instance: { type: 'string', example: '/orders/ord_123' },
    requestId: {
      type: 'string',
      description: 'The X-Request-Id of the response: quote it to find the request in the logs',
      example: '3f0c2a4e-8b1d-4c6e-9a27-5d1e0b7f9c41',
    },
    errors: {
      type: 'array',
      description: 'Field-level problems of a 400/422',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  additionalProperties: true,
};

const PROBLEMS: Record<string, string> = {
  '400': 'Malformed request: invalid parameters or body (field-level details in `errors`)',
  '401': 'Missing, malformed, unknown or revoked API key',
  '403': "The key's scopes do not allow this operation",
  '404': "Not found (another tenant's resources are never visible: they are not found either)",
  '409':
    "Conflict: the resource's current state does not allow this (current state in the body), or a request " +
    'with the same Idempotency-Key is still in flight',
  '412': 'If-Match does not match the current version (current version in the body and ETag)',
  '413': 'The request body exceeds the size limit',
  '415': 'The request body is not `application/json`',
  '431': 'The request headers are too large (over 16 KiB)',
  '422': 'The Idempotency-Key was already used with a different request',
  '429': 'Rate limited: retry after the `Retry-After` seconds',
  '500': 'Unexpected server error (logged; no internals are exposed)',
};

/** Sent on every response (the runtime's access log, libs/runtime/src/logging.ts). */
const REQUEST_ID_HEADERS = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } };

const problemRef = (code: string) => ({ $ref: `#/components/responses/Problem${code}` });

type Dto = new (...args: never[]) => unknown;

interface RouteInfo {
  method: HttpMethod;
  path: string;
  isPublic: boolean;
  scope?: string;
  /** The validated DTOs of `@Body()` and `@Query()`, when the handler has them. */
  body?: Dto;
  query?: Dto;
}

/** The class of the handler's `@Body()` or `@Query()` argument (the whole body or query, not one field). */
function argumentDto(controller: Dto, name: string, type: RouteParamtypes): Dto | undefined {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<
    string,
    { index: number; data?: unknown }
  >;
  const types = (Reflect.getMetadata('design:paramtypes', controller.prototype as object, name) ??
    []) as unknown[];
  const found = Object.entries(args).find(
    ([key, arg]) => key.startsWith(`${type}:`) && arg.data === undefined,
  );
  const dto = found ? types[found[1].index] : undefined;
  return hasValidationRules(dto) ? dto : undefined;
}

function joinPath(...parts: string[]): string {
  const joined = `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`;
  return joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The app's routes with their auth metadata, read from the same decorators the AuthGuard reads. */
function routes(app: INestApplication): RouteInfo[] {
  const found: RouteInfo[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Dto | null;
      if (!controller) continue;
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (method === undefined || path === undefined) continue;
        const meta = <T>(key: string) =>
          (Reflect.getMetadata(key, handler) ?? Reflect.getMetadata(key, controller)) as T | undefined;
        for (const b of [base ?? ''].flat()) {
          for (const p of [path].flat()) {
            found.push({
              method: RequestMethod[method].toLowerCase() as HttpMethod,
              path: joinPath(b, p),
              isPublic: meta<boolean>(PUBLIC_KEY) === true,
              scope: meta<string>(SCOPE_KEY),
              body: argumentDto(controller, name, RouteParamtypes.BODY),
              query: argumentDto(controller, name, RouteParamtypes.QUERY),
            });
          }
        }
      }
    }
  }
  return found;
}

/**
 * One OpenAPI `webhooks` entry per catalogue type. Its body is one of the type's versions, each a component
 * schema `<type>.v<version>`: a subscription pinned to a version receives that one, every other the latest.
 */
function webhooks(schemas: Record<string, SchemaObject | ReferenceObject>): Record<string, PathItemObject> {
  const entries = listEventTypes().map((info): [string, PathItemObject] => {
    const latest = info.versions.find((v) => v.version === info.latestVersion) ?? info.versions.at(-1)!;
    const refs = info.versions.map((v) => {
      const name = `${info.type}.v${v.version}`;
      schemas[name] = {
        ...envelopeSchema(info.type, info.resourceType, v.version, v.jsonSchema),
        description: `${info.type} at version ${v.version}: ${v.description}`,
        ...(v.deprecated ? { deprecated: true } : {}),
      };
      return { $ref: `#/components/schemas/${name}` };
    });
    const versions = info.versions.map((v) => v.version).join(', ');
    const header = (name: string, description: string, example: string) => ({
      name,
      in: 'header' as const,
      required: true,
      description,
      schema: { type: 'string' as const },
      example,
    });
    const operation: OperationObject = {
      operationId: `webhook_${info.type.replace(/[^A-Za-z0-9]+/g, '_')}`,
      summary: info.type,
      description:
        `${info.description}\n\nDelivered as a signed POST (Standard Webhooks) with the event envelope at ` +
        `the version the subscription pins for this type (\`versionPins\`), else the latest, ` +
        `${latest.version} (versions: ${versions}).` +
        (latest.deprecated ? ' The latest version is deprecated.' : ''),
      tags: ['webhooks'],
      parameters: [
        header(
          'webhook-id',
          'The eventId: the same on every retry; use it to deduplicate.',
          '0193a4e2-7c1e-7000-8000-000000000000',
        ),
        header(
          'webhook-timestamp',
          'Unix seconds when this attempt was signed; reject if too old.',
          '1795875145',
        ),
        header(
          'webhook-signature',
          'Space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per active secret (rotation).',
          'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
        ),
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: refs.length === 1 ? refs[0] : { oneOf: refs },
            examples: Object.fromEntries(
              info.versions.map((v) => [
                `v${v.version}`,
                {
                  summary: `Version ${v.version}`,
                  value: exampleEnvelope(info.type, info.resourceType, v.version, v.example),
                },
              ]),
            ),
          },
        },
      },
      responses: {
        '2XX': { description: 'Accepted: any 2xx marks the delivery successful' },
        '410': { description: 'Gone: the subscription is disabled at once' },
        '429': {
          description: 'Retried later, honouring `Retry-After` (capped, never earlier than the schedule)',
        },
        default: {
          description: 'Any other status, a timeout or a connection error is retried on the schedule',
        },
      },
      // Signed (webhook-signature), not authenticated by the receiver's credentials.
      security: [],
      ...(latest.deprecated ? { deprecated: true } : {}),
    };
    return [info.type, { post: operation }];
  });
  return Object.fromEntries(entries);
}

function exampleEnvelope(type: string, resourceType: string, version: number, data: unknown) {
  const ids = data as Record<string, unknown>;
  const resourceId = [ids.orderId, ids.messageId, ids.subscriptionId, ids.apiKeyId, ids.tenantId].find(
    (id) => typeof id === 'string',
  );
  return {
    eventId: '0193a4e2-7c1e-7000-8000-000000000000',
    eventType: type,
    version,
    timestamp: '2026-11-28T12:00:00.000Z',
    source: 'tidings/api',
    tenantId: 'ten_01JD3Y0000',
    resourceType,
    resourceId: resourceId ?? 'res_01JD3Y0000',
    sequence: 1,
    position: 40312,
    data,
  };
}

function envelopeSchema(type: string, resourceType: string, version: number, data: unknown): SchemaObject {
  return {
    type: 'object',
    required: [...ENVELOPE_FIELDS],
    properties: {
      eventId: { type: 'string', format: 'uuid' },
      eventType: { const: type } as SchemaObject,
      version: { const: version } as SchemaObject,
      timestamp: { type: 'string', format: 'date-time' },
      source: { type: 'string' },
      tenantId: { type: 'string' },
      resourceType: { const: resourceType } as SchemaObject,
      resourceId: { type: 'string' },
      sequence: { type: 'integer', minimum: 1 },
      position: { type: 'integer', minimum: 1 },
      data: data as SchemaObject,
    } satisfies Record<EnvelopeField, SchemaObject>,
  };
}

// Where @ApiProperty keeps a property's options (DECORATORS.API_MODEL_PROPERTIES; the package does not export it).
const API_MODEL_PROPERTIES = 'swagger/apiModelProperties';

/** The schema of a DTO in the document (by class name, as @nestjs/swagger names them). */
function dtoSchema(document: OpenAPIObject, dto: Dto): SchemaObject {
  const schema = document.components?.schemas?.[dto.name] as SchemaObject | undefined;
  if (!schema?.properties) throw new Error(`${dto.name} has no schema in the OpenAPI document`);
  return schema;
}

/**
 * Writes the validators' rules into the document: each validated body DTO (and the DTOs nested in it) gets its
 * constraints, `required` and `additionalProperties: false` (the validation pipe refuses unknown fields); each
 * query DTO's rules go to its parameters. A validated field the document lacks fails the generation.
 */
function applyValidationRules(document: OpenAPIObject, found: RouteInfo[]): void {
  const seen = new Set<Dto>();
  const visit = (dto: Dto) => {
    if (seen.has(dto)) return;
    seen.add(dto);
    const schema = dtoSchema(document, dto);
    const rules = validationRules(dto);
    for (const [name, rule] of rules) {
      const generated = schema.properties?.[name] as SchemaObject | undefined;
      if (!generated) throw new Error(`${dto.name}.${name} is validated but not in the OpenAPI document`);
      schema.properties![name] = applyRule(generated, rule);
      const declared = (
        Reflect.getMetadata(API_MODEL_PROPERTIES, dto.prototype as object, name) as
          { type?: unknown } | undefined
      )?.type;
      const nested: unknown = Array.isArray(declared) ? declared[0] : declared;
      if (hasValidationRules(nested)) visit(nested);
    }
    const required = [...rules].filter(([, rule]) => !rule.optional).map(([name]) => name);
    if (required.length > 0) schema.required = required;
    else delete schema.required;
    if (isNonEmptyBody(dto)) schema.minProperties = 1;
    schema.additionalProperties = false;
  };
  for (const route of found) {
    if (route.body) visit(route.body);
    if (!route.query) continue;
    const operation = document.paths[route.path]?.[route.method];
    for (const [name, rule] of validationRules(route.query)) {
      const param = operation?.parameters?.find(
        (p): p is ParameterObject => 'in' in p && p.in === 'query' && p.name === name,
      );
      if (!param) throw new Error(`Query ${name} of ${route.method} ${route.path} is not in the document`);
      param.schema = applyRule((param.schema ?? {}) as SchemaObject, rule);
      param.required = !rule.optional;
    }
  }
}

/** OpenAPI 3.0's `nullable` (what @nestjs/swagger writes) as OpenAPI 3.1 / JSON Schema type arrays. */
function toTypeArrays(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(toTypeArrays);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Record<string, unknown>;
  if (typeof schema.nullable === 'boolean') {
    const nullable = schema.nullable;
    delete schema.nullable;
    if (nullable && typeof schema.type === 'string') {
      schema.type = [schema.type, 'null'];
      if (Array.isArray(schema.enum)) schema.enum = [...(schema.enum as unknown[]), null];
    } else if (nullable) {
      const inner = { ...schema };
      for (const key of Object.keys(schema)) if (key !== 'description') delete schema[key];
      delete inner.description;
      schema.anyOf = [inner, { type: 'null' }];
    }
  }
  Object.values(schema).forEach(toTypeArrays);
}

/**
 * The API's OpenAPI 3.1 document: every controller route (Nest's explorer), bearer auth exactly where the
 * AuthGuard requires it, each resource's view schema derived from its state schema, the validators' rules on
 * every body and query, problem+json error responses on every
 * operation, and a `webhooks` section generated from the event catalogue (every version of every type).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Tidings API')
    .setDescription(
      'Orders, messages, webhook subscriptions, the event log and the event catalogue. Every mutation is ' +
        'recorded as an event and delivered by webhooks, Server-Sent Events and Kafka. Errors are ' +
        '`application/problem+json` (RFC 9457).',
    )
    .setVersion('1')
    .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
    .addServer('{origin}', 'Where the api runs', {
      origin: {
        default: 'http://localhost:3000',
        description: 'Scheme, host and port of the api (`npm run dev`: http://localhost:3000, API_PORT)',
      },
    })
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'tdk_<key>',
        description:
          'An API key: `Authorization: Bearer tdk_…`. Opaque (not a JWT): issued by POST /api-keys or ' +
          'POST /tenants, shown once, stored hashed, revocable.',
      },
      'bearer',
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'ADMIN_API_KEY',
        description:
          "The platform operator's ADMIN_API_KEY, an opaque string set in the api's environment (tenant " +
          'creation only; not a tenant key)',
      },
      'operator',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  document.openapi = '3.1.0';
  applyViewSchemas(document.components?.schemas ?? {});
  const found = routes(app);
  applyValidationRules(document, found);
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA },
    responses: {
      ...document.components?.responses,
      ...Object.fromEntries(
        Object.entries(PROBLEMS).map(([code, description]): [string, ResponseObject] => [
          `Problem${code}`,
          {
            description,
            headers: REQUEST_ID_HEADERS,
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          },
        ]),
      ),
    },
    headers: {
      ...document.components?.headers,
      RequestId: {
        description:
          "The request's id: the client's `X-Request-Id` when it is 1–128 of `A-Z a-z 0-9 . _ : + = / -`, a " +
          'new UUID otherwise. Every log line of the request carries it, and so does a problem body (`requestId`).',
        schema: { type: 'string', maxLength: 128 },
      },
    },
  };

  const auth = new Map(found.map((r) => [`${r.method} ${r.path}`, r]));
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const route = auth.get(`${method} ${path}`);
      const responses = operation.responses;
      for (const [code, response] of Object.entries(responses)) {
        if (response && !('$ref' in response))
          response.headers = { ...response.headers, ...REQUEST_ID_HEADERS };
        // Error responses declared by controllers without a body are problem+json too.
        if (Number(code) >= 400 && response && !('$ref' in response) && !response.content) {
          response.content = {
            'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
          };
        }
      }
      // A body whose fields are all optional may be left out: the validation pipe reads a missing body as {}.
      const body = route?.body && dtoSchema(document, route.body);
      if (body && !body.required && !body.minProperties && operation.requestBody) {
        (operation.requestBody as { required?: boolean }).required = false;
      }
      const add = (code: string) => {
        responses[code] ??= problemRef(code);
      };
      add('400');
      if (path.includes('{')) add('404');
      if (method === 'post' || method === 'put' || method === 'patch') {
        add('413');
        add('415');
      }
      if (method !== 'get' && method !== 'head') {
        // Declared by the controllers that honour them (If-Match, Idempotency-Key).
        const headers = (operation.parameters ?? [])
          .filter((p) => 'in' in p && p.in === 'header')
          .map((p) => ('name' in p ? p.name.toLowerCase() : ''));
        if (headers.includes('if-match')) add('412');
        if (headers.includes('idempotency-key')) {
          add('409');
          add('422');
        }
      }
      if (route?.isPublic) {
        // No tenant key; a route with its own credential (the operator's admin key) declares it itself.
        operation.security = (operation.security ?? []).filter((r) => !('bearer' in r));
        if (operation.security.length > 0) add('401');
      } else {
        operation.security = [{ bearer: [] }];
        add('401');
        add('403');
        add('429');
        const scope = route?.scope ?? defaultScope(method);
        (operation as OperationObject & Record<string, unknown>)['x-required-scope'] = scope;
      }
      add('431');
      add('500');
    }
  }
  document.webhooks = webhooks(document.components.schemas!);
  toTypeArrays(document);
  return document;
}

/**
 * The document without a running api: the app graph is built in preview mode (no provider is instantiated, so
 * neither Postgres nor Kafka is needed); config placeholders satisfy the parser, nothing connects.
 */
export async function previewOpenApiDocument(): Promise<OpenAPIObject> {
  const env = {
    DATABASE_URL: 'postgres://preview@localhost:5432/preview',
    KAFKA_BROKERS: 'localhost:9092',
    ...process.env,
  };
  const app = await NestFactory.create(ApiModule.forRoot(env), { preview: true, logger: false });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}

/** Serves Swagger UI at /docs and the document at /docs-json (both public: the contract is not a secret). */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Tidings API',
  });
}
