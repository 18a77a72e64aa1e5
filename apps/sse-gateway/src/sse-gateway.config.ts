import { dbConfigSchema } from '@tidings/db';
import { kafkaConfigSchema } from '@tidings/kafka';
import { addressList, port, runtimeConfigSchema } from '@tidings/runtime';
import { z } from 'zod';

const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const sseConfigSchema = runtimeConfigSchema
  .extend(dbConfigSchema.shape)
  .extend(kafkaConfigSchema.shape)
  .extend({
    SSE_PORT: port(3001),
    // 15 s: well under the 30–60 s idle timeouts of common proxies and load balancers, so an idle stream
    // is never cut, while 10,000 idle connections cost under 700 tiny writes a second.
    SSE_HEARTBEAT_MS: int(10, 300_000, 15_000),
    // 2 s reconnect hint (`retry:`): quick enough that a restarted gateway is barely noticed, slow enough
    // that 10,000 browsers do not stampede the next instance.
    SSE_RETRY_MS: int(0, 300_000, 2_000),
    // 200 ms: Kafka delivers across partitions out of order by a few ms; a position still missing after
    // this long is read from the event log instead (it is committed: the relay positions before publishing).
    SSE_GAP_FILL_MS: int(10, 60_000, 200),
    // 1 MiB of unsent bytes per connection: ~hundreds of typical frames of slack for a briefly stalled
    // reader; beyond it the reader is cut (it resumes with Last-Event-ID) so it cannot grow our heap.
    SSE_MAX_BUFFER_BYTES: int(1_024, 256 * 1024 * 1024, 1024 * 1024),
    // Caps keep one tenant or one client address from exhausting the gateway's 10,000-connection budget.
    SSE_MAX_CONNECTIONS_PER_TENANT: int(1, 1_000_000, 1_000),
    SSE_MAX_CONNECTIONS_PER_IP: int(1, 1_000_000, 100),
    // Proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the client for the
    // per-IP cap. Empty by default: the header is anyone's to forge, so only a listed peer is believed.
    SSE_TRUSTED_PROXIES: addressList(),
    // A resume may replay at most this many positions behind its tenant's head (the event log itself is
    // permanent); an older Last-Event-ID gets `event: reset` so one client cannot scan the whole log.
    SSE_REPLAY_WINDOW: int(0, Number.MAX_SAFE_INTEGER, 1_000_000),
    // Replay reads the log in pages of 500 rows: one index range scan each, small enough to stream out.
    SSE_REPLAY_PAGE_SIZE: int(1, 10_000, 500),
  });

export type SseGatewayConfig = z.infer<typeof sseConfigSchema>;
