import { Parser } from '@asyncapi/parser';
import { buildAsyncApiDocument } from './asyncapi';
import { listEventTypes } from './catalogue';

describe('AsyncAPI document', () => {
  it('validates with @asyncapi/parser without errors', async () => {
    const diagnostics = await new Parser().validate(JSON.stringify(buildAsyncApiDocument()));
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((e) => `${e.path.join('.')}: ${e.message}`)).toEqual([]);
  });

  it('describes every type and version as a message on its resource topic', () => {
    const doc = buildAsyncApiDocument() as {
      channels: Record<string, { address: string; messages: object }>;
      components: { messages: object };
    };
    const ids = listEventTypes().flatMap((t) => t.versions.map((v) => `${t.type}.v${v.version}`));
    expect(Object.keys(doc.components.messages).sort()).toEqual(ids.sort());
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual(
      expect.arrayContaining([
        'events.order',
        'events.message',
        'events.webhook',
        'events.api_key',
        'events.tenant',
      ]),
    );
  });
});
