import { eventually } from './support/eventually';
import { assignPositions } from './support/positions';
import { SseClient } from './support/sse-client';
import { orderUpdated, sseHarness, type SseHarness } from './support/sse-harness';

describe('SSE gateway: positions Kafka never delivers', () => {
  let h: SseHarness;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    // No relay: events are positioned in the log but never published, as when Kafka lags or is down.
    h = await sseHarness({ relay: false });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.teardown();
  });

  it('reads committed positions from the event log after SSE_GAP_FILL_MS, in order, to live clients', async () => {
    const gw = await h.startGateway({ SSE_GAP_FILL_MS: '50' });
    const t = await h.createTenant();
    const c = await SseClient.connect(`${gw.url}/events/stream`, { token: t.apiKey });
    clients.push(c);
    for (let i = 0; i < 30; i++)
      await h.append(t.tenantId, 'order.updated', `ord_g${i % 3}`, orderUpdated(`ord_g${i % 3}`, i));
    expect(await assignPositions(h.ds)).toBe(30);
    const expected = await h.logged('tenant_id = $1', [t.tenantId]);
    await eventually(() => expect(c.events.map((e) => e.position)).toEqual(expected.map((e) => e.position)));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^tidings_sse_gap_fill_events_total\{[^}]*\} 30$/m);
  });
});
