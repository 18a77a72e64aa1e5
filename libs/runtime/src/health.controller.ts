import { Controller, Get, HttpCode, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';

export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean> | boolean;
  /**
   * False: reported in `checks` but not a condition of readiness — a dependency the app's requests do not
   * need (the gateway serves replay from Postgres while Kafka is away). Default true.
   */
  required?: boolean;
}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

// A dependency that does not answer within 2 s counts as down: readiness probes must answer quickly.
const CHECK_TIMEOUT_MS = 2_000;

async function withTimeout(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(() => check.check())
        .catch(() => false),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(@Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[]) {}

  @Get('live')
  @HttpCode(200)
  live() {
    return { status: 'ok' };
  }

  /**
   * Ready when every required check passes: what this app's requests need (docs/operations.md). Every check,
   * required or not, is reported.
   */
  @Get('ready')
  async ready() {
    const results = await Promise.all(this.checks.map(async (c) => [c, await withTimeout(c)] as const));
    const checks = Object.fromEntries(results.map(([c, ok]) => [c.name, ok ? 'up' : 'down']));
    if (results.every(([c, ok]) => ok || c.required === false)) return { ready: true, checks };
    throw new ServiceUnavailableException({ ready: false, checks });
  }
}
