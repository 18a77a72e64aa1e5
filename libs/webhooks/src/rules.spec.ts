import { effectiveMaxInFlight, effectiveMaxInFlightSql } from './rules';
import { webhooksConfigSchema } from './webhooks.config';

function setup(env: Record<string, string> = {}) {
  return { config: webhooksConfigSchema.parse(env) };
}

describe('effectiveMaxInFlight', () => {
  it("gives a subscription without a setting the operator's default, 16 unless configured", () => {
    const { config } = setup();
    expect(effectiveMaxInFlight(null, config)).toBe(16);
    expect(effectiveMaxInFlight(null, setup({ WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '8' }).config)).toBe(8);
  });

  it('keeps a setting within the limit (48 by default) and holds one saved above a lowered limit to it', () => {
    const { config } = setup();
    expect(effectiveMaxInFlight(48, config)).toBe(48);
    expect(effectiveMaxInFlight(1, config)).toBe(1);
    const lowered = setup({ WEBHOOK_MAX_IN_FLIGHT_LIMIT: '10' }).config;
    expect(effectiveMaxInFlight(40, lowered)).toBe(10);
    // The default is held to the limit too.
    expect(effectiveMaxInFlight(null, { ...lowered, WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: 32 })).toBe(10);
  });

  it('states the same rule in SQL for the claim and the recording statement', () => {
    expect(effectiveMaxInFlightSql('s', setup({ WEBHOOK_MAX_IN_FLIGHT_LIMIT: '10' }).config)).toBe(
      'least(coalesce(s.max_in_flight, 16), 10)',
    );
  });

  it('stops boot on a limit or default that is not a positive integer, naming the variable', () => {
    for (const env of [
      { WEBHOOK_MAX_IN_FLIGHT_LIMIT: '0' },
      { WEBHOOK_MAX_IN_FLIGHT_LIMIT: 'many' },
      { WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '2.5' },
    ]) {
      const result = webhooksConfigSchema.safeParse(env);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0].path).toEqual(Object.keys(env));
    }
  });
});
