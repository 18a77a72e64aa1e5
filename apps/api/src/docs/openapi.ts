import { type INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type {
  OperationObject,
  PathItemObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { listEventTypes } from '@tidings/events';
import { PUBLIC_KEY, SCOPE_KEY } from '../auth/tenant.decorator';

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
  '422': 'The Idempotency-Key was already used with a different request',
  '429': 'Rate limited: retry after the `Retry-After` seconds',
  '500': 'Unexpected server error (logged; no internals are exposed)',
};

const problemRef = (code: string) => ({ $ref: `#/components/responses/Problem${code}` });

interface RouteInfo {
  method: HttpMethod;
  path: string;
  isPublic: boolean;
  scope?: string;
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
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
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
            });
          }
        }
      }
    }
  }
  return found;
}

/** One OpenAPI `webhooks` entry per catalogue type, at its latest version (what unpinned subscriptions get). */
function webhooks(): Record<string, PathItemObject> {
  const entries = listEventTypes().map((info): [string, PathItemObject] => {
    const latest = info.versions.find((v) => v.version === info.latestVersion) ?? info.versions.at(-1)!;
    const older = info.versions.filter((v) => v.version !== latest.version).map((v) => v.version);
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
        `version ${latest.version}.` +
        (older.length > 0
          ? ` Subscriptions pinned to version ${older.join(' or ')} receive that version.`
          : '') +
        (latest.deprecated ? ' This version is deprecated.' : ''),
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
            schema: envelopeSchema(info.type, info.resourceType, latest.version, latest.jsonSchema),
            example: exampleEnvelope(info.type, info.resourceType, latest.version, latest.example),
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
    required: [
      'eventId',
      'eventType',
      'version',
      'timestamp',
      'source',
      'tenantId',
      'resourceType',
      'resourceId',
      'sequence',
      'position',
      'data',
    ],
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
    },
  };
}

/**
 * The API's OpenAPI 3.1 document: every controller route (Nest's explorer), bearer auth exactly where the
 * AuthGuard requires it, problem+json error responses on every operation, and a `webhooks` section generated
 * from the event catalogue.
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
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer tdk_…`' },
      'bearer',
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: "The platform operator's ADMIN_API_KEY (tenant creation only; not a tenant key)",
      },
      'operator',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  document.openapi = '3.1.0';
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
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          },
        ]),
      ),
    },
  };

  const auth = new Map(routes(app).map((r) => [`${r.method} ${r.path}`, r]));
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const route = auth.get(`${method} ${path}`);
      const responses = operation.responses;
      for (const [code, response] of Object.entries(responses)) {
        // Error responses declared by controllers without a body are problem+json too.
        if (Number(code) >= 400 && response && !('$ref' in response) && !response.content) {
          response.content = {
            'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
          };
        }
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
        const scope = route?.scope ?? (method === 'get' || method === 'head' ? 'read' : 'write');
        (operation as OperationObject & Record<string, unknown>)['x-required-scope'] = scope;
      }
      add('500');
    }
  }
  document.webhooks = webhooks();
  return document;
}

/** Serves Swagger UI at /docs and the document at /docs-json (both public: the contract is not a secret). */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Tidings API',
  });
}
