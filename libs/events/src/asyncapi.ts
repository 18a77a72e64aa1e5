import { CATALOGUE, jsonSchemaOf } from './catalogue';
import { buildUntypedEvent, ENVELOPE_FIELDS, type EnvelopeField } from './envelope';
import { dataSchemaUri, toKafkaMessage, topicFor } from './kafka-mapping';

function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

const stringHeader = (description: string) => ({ type: 'string', description });

// Kafka record headers, set by toKafkaMessage; the routing ones are fixed per message (type × version).
function headersFor(type: string, version: number): Record<string, unknown> {
  return {
    type: 'object',
    required: [
      'event-id',
      'event-type',
      'event-version',
      'content-type',
      'ce_specversion',
      'ce_id',
      'ce_source',
      'ce_type',
      'ce_time',
      'ce_subject',
      'ce_dataschema',
    ],
    properties: {
      'event-id': stringHeader('Envelope eventId (UUIDv7); the dedupe key'),
      'event-type': { type: 'string', const: type, description: 'Envelope eventType' },
      'event-version': {
        type: 'string',
        const: String(version),
        description: 'Envelope version (schema version of data), as a decimal string',
      },
      'content-type': { type: 'string', const: 'application/json' },
      traceparent: stringHeader(
        'W3C trace context of the publish, in the trace of the request that caused the event, when present',
      ),
      ce_specversion: { type: 'string', const: '1.0', description: 'CloudEvents spec version' },
      ce_id: stringHeader('CloudEvents id (= eventId)'),
      ce_source: stringHeader('CloudEvents source (= envelope source)'),
      ce_type: { type: 'string', const: type, description: 'CloudEvents type (= eventType)' },
      ce_time: stringHeader('CloudEvents time (= envelope timestamp)'),
      ce_subject: stringHeader('CloudEvents subject (= resourceId, the record key)'),
      ce_dataschema: {
        type: 'string',
        const: dataSchemaUri(type, version),
        description:
          'CloudEvents dataschema: this message (type and version); the CloudEvent data is the whole envelope',
      },
    },
  };
}

function envelopeSchema(type: string, version: number, resourceType: string): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: [...ENVELOPE_FIELDS],
    properties: {
      eventId: {
        type: 'string',
        format: 'uuid',
        pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
        description: 'UUIDv7; also the webhook-id and the dedupe key',
      },
      eventType: { type: 'string', const: type },
      version: { type: 'integer', const: version },
      timestamp: { type: 'string', format: 'date-time' },
      source: { type: 'string' },
      tenantId: { type: 'string' },
      resourceType: { type: 'string', const: resourceType },
      resourceId: { type: 'string', description: 'Also the Kafka message key' },
      sequence: { type: 'integer', minimum: 1, description: "The resource's version after this event" },
      position: {
        type: 'integer',
        minimum: 1,
        description:
          "Dense position in the tenant's order (1, 2, 3… per tenant), assigned by the outbox relay; (tenantId, position) is the cursor",
      },
      data: withoutDialect(jsonSchemaOf(type, version)),
    } satisfies Record<EnvelopeField, unknown>,
  };
}

// A complete record as a consumer sees it: the envelope around the catalogue example (every type and version,
// walked at run time, hence the untyped builder), and its headers.
function exampleOf(
  type: string,
  resourceType: string,
  version: number,
  data: unknown,
): Record<string, unknown> {
  const event = buildUntypedEvent({
    eventType: type,
    version,
    data,
    eventId: '0193a4e2-7b1c-7d4e-8f00-123456789abc',
    timestamp: '2026-11-28T12:00:00.000Z',
    tenantId: 'ten_01JD3Z',
    resourceId: RESOURCE_EXAMPLES[resourceType] ?? 'res_01JD3Z',
    sequence: 1,
    source: 'tidings/api',
  });
  const record = toKafkaMessage(
    { ...event, position: 40312 },
    { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  );
  return { name: 'example', headers: record.headers, payload: JSON.parse(record.value) };
}

const RESOURCE_EXAMPLES: Record<string, string> = {
  order: 'ord_01JD3Y8Z4K',
  message: 'msg_01JD3Z0A1B',
  tenant: 'ten_01JD3Z',
  api_key: 'key_AbCdEf123',
  webhook: 'whk_01JD3Z9QXW',
};

/** AsyncAPI 3.0 description of every topic, message (type × version), key and header, from the catalogue. */
export function buildAsyncApiDocument(
  opts: { topicPrefix?: string; partitions?: number } = {},
): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const byResource = new Map<string, string[]>();
  for (const def of CATALOGUE) {
    for (const v of def.versions) {
      const id = `${def.type}.v${v.version}`;
      messages[id] = {
        name: id,
        title: `${def.type} v${v.version}${v.deprecated ? ' (deprecated)' : ''}`,
        summary: def.description,
        description: v.description + (v.sunset ? ` Sunset: ${v.sunset}.` : ''),
        contentType: 'application/json',
        headers: headersFor(def.type, v.version),
        payload: envelopeSchema(def.type, v.version, def.resourceType),
        bindings: {
          kafka: {
            key: {
              type: 'string',
              description: 'resourceId: every event of one resource is on one partition, in sequence order',
            },
            bindingVersion: '0.5.0',
          },
        },
        examples: [exampleOf(def.type, def.resourceType, v.version, v.example)],
      };
      byResource.set(def.resourceType, [...(byResource.get(def.resourceType) ?? []), id]);
    }
  }
  // Channel and channel-message keys may not contain dots in AsyncAPI 3; the address keeps the real name.
  const key = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');
  for (const [resourceType, ids] of byResource) {
    const topic = topicFor(resourceType, opts.topicPrefix);
    channels[key(topic)] = {
      address: topic,
      description: `Every event of resource type ${resourceType}, keyed by resourceId (per-resource order).`,
      messages: Object.fromEntries(ids.map((id) => [key(id), { $ref: `#/components/messages/${id}` }])),
      bindings: { kafka: { topic, partitions: opts.partitions ?? 6, bindingVersion: '0.5.0' } },
    };
    operations[`consume-${resourceType}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${key(topic)}` },
      summary: `Consume ${resourceType} events`,
      messages: ids.map((id) => ({ $ref: `#/channels/${key(topic)}/messages/${key(id)}` })),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Tidings events',
      version: '1.0.0',
      description: 'Every event Tidings publishes to Kafka. Value = the JSON envelope; key = resourceId.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: { host: '127.0.0.1:9092', protocol: 'kafka', description: 'Local development broker' },
    },
    channels,
    operations,
    components: { messages },
  };
}
