import { resourceTypes } from './catalogue';
import {
  EnvelopeDecodeError,
  decodeEnvelope,
  encodeEnvelope,
  renderAtVersion,
  type EventEnvelope,
} from './envelope';

/** `events.<resourceType>`, one topic per resource type, optionally prefixed (tests isolate with it). */
export function topicFor(resourceType: string, prefix = ''): string {
  return `${prefix}events.${resourceType}`;
}

export function allEventTopics(prefix = ''): string[] {
  return resourceTypes().map((r) => topicFor(r, prefix));
}

/**
 * CloudEvents `dataschema` of a record: names the schema its value follows, the envelope of (type, version) —
 * the AsyncAPI message `<type>.v<version>`, whose `data` is the JSON Schema of `GET /event-types/<type>` at that
 * version. A URN, so the same record carries the same bytes in every deployment.
 */
export function dataSchemaUri(eventType: string, version: number): string {
  return `urn:tidings:schema:${eventType}:v${version}`;
}

export interface KafkaRecord {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

const TRACEPARENT = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * A W3C Trace Context `traceparent` without extensions: version 00–fe, non-zero trace and parent ids. Whatever
 * fails it is dropped, never forwarded (on the Kafka record, stored with the event, or passed through).
 */
export function isTraceparent(value: string | null | undefined): value is string {
  return typeof value === 'string' && TRACEPARENT.test(value);
}

/**
 * The only place the partition key is chosen: key = resourceId, so every event of a resource lands on one
 * partition in order. Headers mirror the envelope for routing without parsing, plus CloudEvents 1.0 Kafka
 * binary-mode `ce_*` attributes so CloudEvents consumers can read the stream: the CloudEvent's data is the
 * record value, the whole envelope (`content-type` is its `datacontenttype`, `ce_dataschema` its versioned schema).
 */
export function toKafkaMessage(
  e: EventEnvelope,
  opts: { topicPrefix?: string; traceparent?: string | null } = {},
): KafkaRecord {
  if (e.position === null)
    throw new Error(`event ${e.eventId} has no position: only the relay publishes events`);
  const headers: Record<string, string> = {
    'event-id': e.eventId,
    'event-type': e.eventType,
    'event-version': String(e.version),
    'content-type': 'application/json',
    ce_specversion: '1.0',
    ce_id: e.eventId,
    ce_source: e.source,
    ce_type: e.eventType,
    ce_time: e.timestamp,
    ce_subject: e.resourceId,
    ce_dataschema: dataSchemaUri(e.eventType, e.version),
  };
  if (isTraceparent(opts.traceparent)) headers.traceparent = opts.traceparent;
  return {
    topic: topicFor(e.resourceType, opts.topicPrefix),
    key: e.resourceId,
    value: encodeEnvelope(e),
    headers,
  };
}

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

function header(headers: Record<string, HeaderValue> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

/** The record's `traceparent` header (the relay's publish span), when present and valid. */
export function kafkaTraceparent(msg: { headers?: Record<string, HeaderValue> }): string | undefined {
  const value = header(msg.headers, 'traceparent');
  return isTraceparent(value) ? value : undefined;
}

/**
 * Decodes a record produced by `toKafkaMessage`: validates the envelope, requires a position, checks the
 * routing headers agree with the body, and optionally renders the data at the `version` asked for.
 * Throws `EnvelopeDecodeError` — poison for a consumer.
 */
export function fromKafkaMessage(
  msg: { value: Buffer | string | null; key?: Buffer | string | null; headers?: Record<string, HeaderValue> },
  opts: { version?: number } = {},
): EventEnvelope {
  if (msg.value === null) throw new EnvelopeDecodeError('record has no value (tombstone)');
  const e = decodeEnvelope(msg.value);
  if (e.position === null) throw new EnvelopeDecodeError('published event has no position');
  if (msg.key !== undefined && msg.key !== null && msg.key.toString() !== e.resourceId) {
    throw new EnvelopeDecodeError(`record key ${msg.key.toString()} is not the resourceId ${e.resourceId}`);
  }
  // Headers are optional (a producer may not set them) but, when present, must agree with the body.
  const expected: [string, string][] = [
    ['event-id', e.eventId],
    ['event-type', e.eventType],
    ['event-version', String(e.version)],
    ['ce_id', e.eventId],
    ['ce_type', e.eventType],
    ['ce_subject', e.resourceId],
    ['ce_dataschema', dataSchemaUri(e.eventType, e.version)],
  ];
  for (const [name, value] of expected) {
    const actual = header(msg.headers, name);
    if (actual !== undefined && actual !== value) {
      throw new EnvelopeDecodeError(`${name} header ${actual} does not match the body (${value})`);
    }
  }
  if (opts.version === undefined) return e;
  try {
    return renderAtVersion(e, opts.version);
  } catch (error) {
    throw new EnvelopeDecodeError(error instanceof Error ? error.message : String(error), 'unknown_version');
  }
}
