import { ServiceUnavailableException } from '@nestjs/common';
import { HealthController, type ReadinessCheck } from './health.controller';

function setup(checks: ReadinessCheck[]) {
  return { sut: new HealthController(checks) };
}

describe('HealthController readiness', () => {
  it('is ready when every required check passes, reporting a failed optional one', async () => {
    const { sut } = setup([
      { name: 'database', check: () => Promise.resolve(true) },
      { name: 'kafka', required: false, check: () => false },
    ]);
    expect(await sut.ready()).toEqual({ ready: true, checks: { database: 'up', kafka: 'down' } });
  });

  it('is not ready when a required check fails or throws', async () => {
    const { sut } = setup([
      { name: 'database', check: () => Promise.reject(new Error('connection refused')) },
      { name: 'kafka', check: () => true },
    ]);
    const error = await sut.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    expect((error as ServiceUnavailableException).getResponse()).toEqual({
      ready: false,
      checks: { database: 'down', kafka: 'up' },
    });
  });
});
