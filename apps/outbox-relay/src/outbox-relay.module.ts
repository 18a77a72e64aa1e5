import { type DynamicModule, Inject, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { READINESS_CHECKS, type ReadinessCheck, RuntimeModule } from '@tidings/runtime';
import { relayConfigSchema } from './outbox-relay.config';
import { HousekeepingWorker } from './relay/housekeeping.worker';
import { OutboxService } from './relay/outbox.service';
import { OutboxWakeups } from './relay/outbox-wakeups.service';
import { RelayMetrics } from './relay/relay-metrics.service';
import { RelayWorker } from './relay/relay.worker';
import { ShardLeases } from './relay/shard-leases.service';

@Module({})
export class OutboxRelayModule {
  constructor(worker: RelayWorker, @Inject(READINESS_CHECKS) readiness: ReadinessCheck[]) {
    // Ready = database (runtime) + a connected producer: what publishing needs.
    readiness.push({ name: 'kafka', check: () => worker.connected });
  }

  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: OutboxRelayModule,
      imports: [
        RuntimeModule.forRoot({ app: 'outbox-relay', schema: relayConfigSchema, env }),
        ScheduleModule.forRoot(),
      ],
      providers: [RelayMetrics, ShardLeases, OutboxService, OutboxWakeups, RelayWorker, HousekeepingWorker],
    };
  }
}
