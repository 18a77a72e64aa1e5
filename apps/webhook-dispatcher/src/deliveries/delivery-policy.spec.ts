import { parseConfig } from '@tidings/runtime';
import { dispatcherConfigSchema, parseDuration } from '../webhook-dispatcher.config';
import { isSuccess, nextAttemptAt, type RetryPolicy } from '@tidings/webhooks';
import { parseRetryAfter, type SendResult } from './delivery-sender.service';
import { envelopeFromRawRow } from '@tidings/db';
import {
  buildUntypedEvent,
  CATALOGUE,
  fromKafkaMessage,
  supportedVersions,
  toKafkaMessage,
} from '@tidings/events';
import { activeSecrets, webhookBody } from './delivery.worker';

const baseEnv = { DATABASE_URL: 'postgres://u:p@h:5432/d', KAFKA_BROKERS: '127.0.0.1:9092' };

function setup(overrides: Partial<RetryPolicy> = {}) {
  const policy: RetryPolicy = {
    schedule: [60_000, 300_000],
    jitter: 0,
    retryAfterMaxMs: 86_400_000,
    ...overrides,
  };
  return { policy, now: Date.UTC(2026, 10, 28, 12, 0, 0) };
}

describe('retry schedule config', () => {
  it('defaults to 1m, 5m, 30m, 2h, 24h', () => {
    const config = parseConfig(dispatcherConfigSchema, baseEnv);
    expect(config.WEBHOOK_RETRY_SCHEDULE).toEqual([60_000, 300_000, 1_800_000, 7_200_000, 86_400_000]);
    expect(config.WEBHOOK_RETRY_JITTER).toBe(0.1);
    expect(config.WEBHOOK_TIMEOUT_MS).toBe(15_000);
    expect(config.WEBHOOK_ALLOWED_HOSTS).toEqual(new Set());
  });

  it('parses a compressed schedule for tests', () => {
    const config = parseConfig(dispatcherConfigSchema, {
      ...baseEnv,
      WEBHOOK_RETRY_SCHEDULE: '50ms, 100ms,1.5s',
    });
    expect(config.WEBHOOK_RETRY_SCHEDULE).toEqual([50, 100, 1500]);
  });

  it('stops boot with a message naming the variable when the schedule is malformed', () => {
    expect(() =>
      parseConfig(dispatcherConfigSchema, { ...baseEnv, WEBHOOK_RETRY_SCHEDULE: '1m,soon' }),
    ).toThrow(/WEBHOOK_RETRY_SCHEDULE: must be comma-separated durations/);
  });

  it('defaults the health thresholds: warn at 3 failed attempts, disable after 5 dead letters, no time scale', () => {
    const config = parseConfig(dispatcherConfigSchema, baseEnv);
    expect(config.WEBHOOK_FAILING_WARNING_AT).toBe(3);
    expect(config.WEBHOOK_FAILING_WARNING_AFTER).toBe(300_000);
    expect(config.WEBHOOK_DISABLE_AFTER_DEAD_LETTERS).toBe(5);
    expect(config.WEBHOOK_RETRY_TIME_SCALE).toBe(1);
  });

  it('refuses a time scale outside (0, 1]', () => {
    for (const bad of ['0', '2', '-1', 'fast'])
      expect(() =>
        parseConfig(dispatcherConfigSchema, { ...baseEnv, WEBHOOK_RETRY_TIME_SCALE: bad }),
      ).toThrow(/WEBHOOK_RETRY_TIME_SCALE/);
  });

  it('reads durations in every unit', () => {
    expect([parseDuration('5ms'), parseDuration('2s'), parseDuration('1h'), parseDuration('1d')]).toEqual([
      5, 2000, 3_600_000, 86_400_000,
    ]);
    expect(parseDuration('5 minutes')).toBeUndefined();
  });
});

describe('nextAttemptAt', () => {
  it('follows the schedule after each failed attempt and is null once exhausted', () => {
    const { policy, now } = setup();
    expect(nextAttemptAt(policy, 1, null, now)?.getTime()).toBe(now + 60_000);
    expect(nextAttemptAt(policy, 2, null, now)?.getTime()).toBe(now + 300_000);
    expect(nextAttemptAt(policy, 3, null, now)).toBeNull();
  });

  it('applies jitter within ±jitter of the scheduled delay', () => {
    const { policy, now } = setup({ jitter: 0.1 });
    expect(nextAttemptAt(policy, 1, null, now, () => 0)?.getTime()).toBe(now + 54_000);
    expect(nextAttemptAt(policy, 1, null, now, () => 1)?.getTime()).toBe(now + 66_000);
  });

  it('honours a longer Retry-After but never goes earlier than the schedule', () => {
    const { policy, now } = setup();
    expect(nextAttemptAt(policy, 1, 120_000, now)?.getTime()).toBe(now + 120_000);
    expect(nextAttemptAt(policy, 1, 1_000, now)?.getTime()).toBe(now + 60_000);
  });

  it('caps Retry-After', () => {
    const { policy, now } = setup({ retryAfterMaxMs: 3_600_000 });
    expect(nextAttemptAt(policy, 1, 7 * 86_400_000, now)?.getTime()).toBe(now + 3_600_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    const now = Date.UTC(2026, 10, 28, 12, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Sat, 28 Nov 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent or malformed values', () => {
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter('-5')).toBeNull();
  });
});

describe('isSuccess', () => {
  const result = (statusCode: number | null): SendResult => ({
    statusCode,
    durationMs: 1,
    responseBody: null,
    error: null,
    retryAfterMs: null,
  });

  it('counts only 2xx as success', () => {
    expect([200, 204, 299].map((s) => isSuccess(result(s)))).toEqual([true, true, true]);
    expect([null, 199, 301, 302, 404, 410, 429, 500].map((s) => isSuccess(result(s)))).toEqual(
      Array(8).fill(false),
    );
  });
});

describe('activeSecrets', () => {
  it('signs with the current secret and with rotated-out secrets until they expire', () => {
    const now = Date.UTC(2026, 10, 28);
    expect(
      activeSecrets(
        [
          { secret: 'whsec_new', expiresAt: null },
          { secret: 'whsec_old', expiresAt: new Date(now + 1000).toISOString() },
          { secret: 'whsec_expired', expiresAt: new Date(now - 1000).toISOString() },
        ],
        now,
      ),
    ).toEqual(['whsec_new', 'whsec_old']);
  });
});

describe('webhookBody', () => {
  // The fast path renders the envelope it consumed from Kafka, the claim path the event-log row: for every
  // catalogue example and every version, both must give the same bytes (subscribers dedupe and may hash them).
  const cases = CATALOGUE.flatMap((d) =>
    d.versions.map((v) => ({ type: d.type, version: v.version, example: v.example })),
  );

  it.each(cases)(
    '$type v$version renders the same bytes from Kafka and from the log',
    ({ type, version, example }) => {
      const built = buildUntypedEvent({
        eventType: type,
        version,
        tenantId: 'ten_1',
        resourceId: 'res_1',
        sequence: 3,
        source: 'tidings/test',
        data: example,
      });
      const logRow = { ...built, position: 42 };
      const fromLog = envelopeFromRawRow({
        event_id: logRow.eventId,
        tenant_id: logRow.tenantId,
        event_type: logRow.eventType,
        version: logRow.version,
        resource_type: logRow.resourceType,
        resource_id: logRow.resourceId,
        sequence: logRow.sequence,
        source: logRow.source,
        occurred_at: new Date(logRow.timestamp),
        data: logRow.data,
        position: '42',
      });
      const fromKafka = fromKafkaMessage(toKafkaMessage(fromLog));
      for (const target of supportedVersions(type)) {
        expect(webhookBody(fromKafka, target)).toBe(webhookBody(fromLog, target));
      }
    },
  );
});
