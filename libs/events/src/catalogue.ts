import { z } from 'zod';
import type { EventEnvelope } from './envelope';
import { MESSAGE_EVENTS, type MessageDeletedV1, type MessageReceivedV1 } from './message.events';
import {
  ORDER_EVENTS,
  type OrderCancelledV1,
  type OrderCreatedV1,
  type OrderCreatedV2,
  type OrderDeletedV1,
  type OrderDeliveredV1,
  type OrderPaymentReceivedV1,
  type OrderShippedV1,
  type OrderUpdatedV1,
} from './order.events';
import {
  PLATFORM_EVENTS,
  type ApiKeyCreatedV1,
  type ApiKeyRevokedV1,
  type TenantCreatedV1,
  type WebhookDeliveryExhaustedV1,
  type WebhookSubscriptionCreatedV1,
  type WebhookSubscriptionCreatedV2,
  type WebhookSubscriptionDeletedV1,
  type WebhookSubscriptionDisabledV1,
  type WebhookSubscriptionEnabledV1,
  type WebhookSubscriptionFailingV1,
  type WebhookSubscriptionSecretRotatedV1,
  type WebhookSubscriptionUpdatedV1,
  type WebhookSubscriptionUpdatedV2,
  type WebhookTestV1,
} from './platform.events';

export interface EventVersionDefinition {
  version: number;
  description: string;
  /** The one schema: the TypeScript type, runtime validation and the JSON Schema all derive from it. */
  schema: z.ZodType;
  example: unknown;
  deprecated?: boolean;
  /** ISO date after which this version is no longer delivered. */
  sunset?: string;
  /** Converts data of the previous version into this one. Required for every version after the first. */
  upcastFrom?: (previous: unknown) => unknown;
  /** Converts data of this version into the previous one. Required for every version after the first. */
  downcastTo?: (current: unknown) => unknown;
}

export interface EventDefinition {
  type: string;
  resourceType: string;
  description: string;
  versions: EventVersionDefinition[];
}

export interface EventTypeInfo {
  type: string;
  resourceType: string;
  description: string;
  latestVersion: number;
  versions: {
    version: number;
    description: string;
    jsonSchema: Record<string, unknown>;
    example: unknown;
    deprecated: boolean;
    sunset?: string;
  }[];
}

export interface Issue {
  path: string;
  message: string;
}

export class EventValidationError extends Error {
  constructor(
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(
      issues.length
        ? `${message}: ${issues.map((i) => `${i.path || '(root)'} ${i.message}`).join('; ')}`
        : message,
    );
    this.name = 'EventValidationError';
  }
}

export class UnknownEventTypeError extends EventValidationError {
  constructor(
    readonly eventType: string,
    readonly version?: number,
  ) {
    super(
      version === undefined
        ? `unknown event type ${eventType}`
        : `unknown version ${version} of event type ${eventType}`,
    );
    // Set after super() so the message stays the plain sentence above (decoders re-use it verbatim).
    this.issues.push(
      version === undefined
        ? { path: 'eventType', message: `unknown event type ${eventType}` }
        : { path: 'version', message: `unknown version ${version} of ${eventType}` },
    );
    this.name = 'UnknownEventTypeError';
  }
}

/**
 * The `data` type of each event type at its latest version, e.g. `EventEnvelope<EventDataMap['order.shipped']>`.
 * A test keeps these keys equal to the catalogue's types.
 */
export interface EventDataMap {
  'order.created': OrderCreatedV2;
  'order.updated': OrderUpdatedV1;
  'order.payment_received': OrderPaymentReceivedV1;
  'order.shipped': OrderShippedV1;
  'order.delivered': OrderDeliveredV1;
  'order.cancelled': OrderCancelledV1;
  'order.deleted': OrderDeletedV1;
  'message.received': MessageReceivedV1;
  'message.deleted': MessageDeletedV1;
  'tenant.created': TenantCreatedV1;
  'api_key.created': ApiKeyCreatedV1;
  'api_key.revoked': ApiKeyRevokedV1;
  'webhook.subscription.created': WebhookSubscriptionCreatedV2;
  'webhook.subscription.updated': WebhookSubscriptionUpdatedV2;
  'webhook.subscription.deleted': WebhookSubscriptionDeletedV1;
  'webhook.subscription.secret_rotated': WebhookSubscriptionSecretRotatedV1;
  'webhook.subscription.failing': WebhookSubscriptionFailingV1;
  'webhook.subscription.disabled': WebhookSubscriptionDisabledV1;
  'webhook.subscription.enabled': WebhookSubscriptionEnabledV1;
  'webhook.delivery.exhausted': WebhookDeliveryExhaustedV1;
  'webhook.test': WebhookTestV1;
}
export type KnownEventType = keyof EventDataMap;

/** `data` of `T` at its latest version, as the catalogue's schema types it. */
export type EventData<T extends KnownEventType> = EventDataMap[T];

/** Every version of the types that have more than one (the others have only v1, `EventDataMap`'s). */
interface MultiVersionData {
  'order.created': { 1: OrderCreatedV1; 2: OrderCreatedV2 };
  'webhook.subscription.created': { 1: WebhookSubscriptionCreatedV1; 2: WebhookSubscriptionCreatedV2 };
  'webhook.subscription.updated': { 1: WebhookSubscriptionUpdatedV1; 2: WebhookSubscriptionUpdatedV2 };
}

/** The `data` type of each version of `T`, keyed by version number. A test keeps them equal to the catalogue's. */
export type EventVersions<T extends KnownEventType> = T extends keyof MultiVersionData
  ? MultiVersionData[T]
  : { 1: EventDataMap[T] };

export type EventVersion<T extends KnownEventType> = keyof EventVersions<T> & number;

/**
 * A decoded event of type `T` rendered at version `V` (default: the latest), e.g.
 * `EventEnvelopeOf<'order.created', 1>`. Distributes over a union of types, so a handler of `order.*` can
 * narrow on `eventType`.
 */
export type EventEnvelopeOf<
  T extends KnownEventType,
  V extends EventVersion<T> | 'latest' = 'latest',
> = T extends KnownEventType
  ? Omit<
      EventEnvelope<V extends EventVersion<T> ? EventVersions<T>[V] : EventData<T>>,
      'eventType' | 'version'
    > & {
      eventType: T;
      version: V extends number ? V : number;
    }
  : never;

/** Every event type Tidings emits, each version declared once. */
export const CATALOGUE: readonly EventDefinition[] = [...ORDER_EVENTS, ...MESSAGE_EVENTS, ...PLATFORM_EVENTS];

const byType = new Map(CATALOGUE.map((d) => [d.type, d]));

function assertWellFormed(): void {
  for (const def of CATALOGUE) {
    def.versions.forEach((v, i) => {
      if (v.version !== i + 1) throw new Error(`${def.type}: versions must be 1..n in order`);
      if (i > 0 && (!v.upcastFrom || !v.downcastTo))
        throw new Error(`${def.type} v${v.version}: casters required`);
    });
  }
}
assertWellFormed();

function definition(type: string): EventDefinition {
  const def = byType.get(type);
  if (!def) throw new UnknownEventTypeError(type);
  return def;
}

function versionOf(type: string, version: number): EventVersionDefinition {
  const v = definition(type).versions.find((x) => x.version === version);
  if (!v) throw new UnknownEventTypeError(type, version);
  return v;
}

export function isKnownEventType(type: string): boolean {
  return byType.has(type);
}

/** The catalogue's example payload of `type` at its latest version (a catalogue test validates every example). */
export function exampleData<T extends KnownEventType>(type: T): EventData<T> {
  return definition(type).versions.at(-1)!.example as EventData<T>;
}

export function latestVersion(type: string): number {
  return definition(type).versions.length;
}

export function supportedVersions(type: string): number[] {
  return definition(type).versions.map((v) => v.version);
}

export function resourceTypeOf(type: string): string {
  return definition(type).resourceType;
}

export function resourceTypes(): string[] {
  return [...new Set(CATALOGUE.map((d) => d.resourceType))];
}

export function versionInfo(type: string, version: number): { deprecated: boolean; sunset?: string } {
  const v = versionOf(type, version);
  return { deprecated: v.deprecated ?? false, sunset: v.sunset };
}

/** Validates `data` against the schema of (type, version); returns the parsed data or throws. */
export function validateEventData(type: string, version: number, data: unknown): unknown {
  const result = versionOf(type, version).schema.safeParse(data);
  if (result.success) return result.data;
  throw new EventValidationError(
    `invalid data for ${type} v${version}`,
    result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  );
}

/** Converts data between any two supported versions of a type through the registered casters. */
export function convertData(type: string, data: unknown, from: number, to: number): unknown {
  const def = definition(type);
  versionOf(type, from);
  versionOf(type, to);
  let current = data;
  for (let v = from; v < to; v++) current = def.versions[v].upcastFrom!(current);
  for (let v = from; v > to; v--) current = def.versions[v - 1].downcastTo!(current);
  return current;
}

const jsonSchemas = new Map<string, Record<string, unknown>>();

export function jsonSchemaOf(type: string, version: number): Record<string, unknown> {
  const key = `${type}@${version}`;
  let schema = jsonSchemas.get(key);
  if (!schema) {
    // `output`: the schema describes what subscribers receive (defaults applied, so always present).
    schema = z.toJSONSchema(versionOf(type, version).schema, {
      target: 'draft-2020-12',
      io: 'output',
    }) as Record<string, unknown>;
    jsonSchemas.set(key, schema);
  }
  return schema;
}

function info(def: EventDefinition): EventTypeInfo {
  return {
    type: def.type,
    resourceType: def.resourceType,
    description: def.description,
    latestVersion: def.versions.length,
    versions: def.versions.map((v) => ({
      version: v.version,
      description: v.description,
      jsonSchema: jsonSchemaOf(def.type, v.version),
      example: v.example,
      deprecated: v.deprecated ?? false,
      ...(v.sunset ? { sunset: v.sunset } : {}),
    })),
  };
}

export function listEventTypes(): EventTypeInfo[] {
  return CATALOGUE.map(info);
}

export function getEventType(type: string): EventTypeInfo | undefined {
  const def = byType.get(type);
  return def ? info(def) : undefined;
}
