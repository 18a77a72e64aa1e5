import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAsyncApiDocument } from './asyncapi';
import { jsonSchemaOf, listEventTypes } from './catalogue';
import { renderEventCatalogueMarkdown } from './catalogue-markdown';
import { fromKafkaMessage } from './kafka-mapping';

interface Doc {
  asyncapi: string;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }>; bindings: object }>;
  operations: Record<string, { action: string; channel: { $ref: string }; messages: { $ref: string }[] }>;
  components: {
    messages: Record<
      string,
      {
        payload: { properties: Record<string, unknown>; required: string[] };
        headers: { properties: Record<string, { const?: string }>; required: string[] };
        bindings: { kafka: { key: { type: string } } };
        examples: { headers: Record<string, string>; payload: unknown }[];
      }
    >;
  };
}

const DOCS = join(__dirname, '../../../docs');

function setup(opts?: { topicPrefix?: string }) {
  const doc = buildAsyncApiDocument(opts) as unknown as Doc;
  const ids = listEventTypes().flatMap((t) =>
    t.versions.map((v) => ({ id: `${t.type}.v${v.version}`, type: t.type, version: v.version })),
  );
  return { doc, ids };
}

// Prettier pads table cells and folds short JSON arrays; compare the content, not the layout.
const unformatted = (markdown: string) =>
  markdown
    .trim()
    .replace(/```json\n([\s\S]*?)\n```/g, (_m, json: string) => JSON.stringify(JSON.parse(json)))
    .split('\n')
    .map((l) => (l.startsWith('|') ? l.replace(/ +/g, ' ').replace(/-{3,}/g, '---') : l))
    .join('\n');

describe('AsyncAPI document', () => {
  it('validates with @asyncapi/parser without errors', async () => {
    const diagnostics = await new Parser().validate(JSON.stringify(setup().doc));
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((e) => `${e.path.join('.')}: ${e.message}`)).toEqual([]);
  });

  it('has one channel per topic and one message per type and version, with its JSON Schema as data', () => {
    const { doc, ids } = setup();
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.keys(doc.components.messages).sort()).toEqual(ids.map((i) => i.id).sort());
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual([
      'events.order',
      'events.message',
      'events.tenant',
      'events.api_key',
      'events.webhook',
    ]);
    const order = Object.values(doc.channels).find((c) => c.address === 'events.order')!;
    expect(Object.values(order.messages).map((m) => m.$ref)).toEqual(
      ids.filter((i) => i.type.startsWith('order.')).map((i) => `#/components/messages/${i.id}`),
    );
    for (const { id, type, version } of ids) {
      const { $schema: _dialect, ...data } = jsonSchemaOf(type, version);
      expect(doc.components.messages[id].payload.properties.data).toEqual(data);
    }
  });

  it('describes the Kafka key and every header, with type and version fixed per message', () => {
    const message = setup().doc.components.messages['order.created.v1'];
    expect(message.bindings.kafka.key.type).toBe('string');
    expect(message.headers.required).toEqual(
      expect.arrayContaining(['event-id', 'event-type', 'event-version', 'content-type', 'ce_specversion']),
    );
    expect(message.headers.properties['event-type'].const).toBe('order.created');
    expect(message.headers.properties['event-version'].const).toBe('1');
    expect(message.headers.properties).toHaveProperty('traceparent');
    expect(message.headers.required).not.toContain('traceparent');
  });

  it('gives every message an example record that our own Kafka decoder accepts', () => {
    const { doc, ids } = setup();
    for (const { id, type, version } of ids) {
      const [example] = doc.components.messages[id].examples;
      const decoded = fromKafkaMessage({ value: JSON.stringify(example.payload), headers: example.headers });
      expect([decoded.eventType, decoded.version]).toEqual([type, version]);
    }
  });

  it('uses prefixed topic addresses when asked', () => {
    const { doc } = setup({ topicPrefix: 'staging.' });
    expect(Object.values(doc.channels).every((c) => c.address.startsWith('staging.events.'))).toBe(true);
  });
});

describe('generated docs', () => {
  it('docs/asyncapi.json is current (run `npm run asyncapi` after changing the catalogue)', () => {
    const committed: unknown = JSON.parse(readFileSync(join(DOCS, 'asyncapi.json'), 'utf8'));
    expect(committed).toEqual(setup().doc);
  });

  it('docs/events.md is current (run `npm run asyncapi` after changing the catalogue)', () => {
    const committed = readFileSync(join(DOCS, 'events.md'), 'utf8');
    expect(unformatted(committed)).toBe(unformatted(renderEventCatalogueMarkdown()));
  });

  it('lists every type and version in the catalogue page', () => {
    const page = renderEventCatalogueMarkdown();
    for (const t of listEventTypes()) {
      expect(page).toContain(`## ${t.type}\n`);
      for (const v of t.versions) expect(page).toContain(`### ${t.type} v${v.version}`);
    }
    expect(page).toContain('v1 (deprecated, sunset 2027-06-30)');
  });
});
