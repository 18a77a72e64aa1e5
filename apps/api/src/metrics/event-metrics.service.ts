import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tidings/runtime';
import { Counter, type Registry } from 'prom-client';
import type {
  AfterQueryEvent,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { DataSource } from 'typeorm';

// appendEvent (@tidings/db) inserts into event_log with the event type as its third parameter.
const APPEND = /INSERT INTO event_log\b/;

/**
 * `tidings_events_appended_total{event_type}`: events this process appended AND committed. It watches the
 * DataSource rather than every call site, so events appended by any feature (orders, keys, webhooks…) count,
 * and it counts at commit — a rolled-back mutation's event never existed and is not counted.
 */
@Injectable()
export class EventMetrics implements EntitySubscriberInterface, OnModuleInit {
  readonly appended: Counter<'event_type'>;
  private readonly pending = new WeakMap<QueryRunner, string[]>();

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly ds: DataSource,
  ) {
    this.appended = new Counter({
      name: 'tidings_events_appended_total',
      help: 'Events appended to the event log by this API process and committed, by event type',
      labelNames: ['event_type'],
      registers: [registry],
    });
  }

  onModuleInit(): void {
    this.ds.subscribers.push(this);
  }

  afterQuery(event: AfterQueryEvent): void {
    const { queryRunner, parameters } = event;
    if (!event.success || !queryRunner?.isTransactionActive || !APPEND.test(event.query)) return;
    const type: unknown = Array.isArray(parameters) ? parameters[2] : undefined;
    if (typeof type !== 'string') return;
    const list = this.pending.get(queryRunner) ?? [];
    list.push(type);
    this.pending.set(queryRunner, list);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    // Releasing a savepoint commits nothing yet: count when the outermost transaction commits.
    if (event.queryRunner.isTransactionActive) return;
    const list = this.pending.get(event.queryRunner);
    this.pending.delete(event.queryRunner);
    for (const type of list ?? []) this.appended.inc({ event_type: type });
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    // A rollback to a savepoint keeps the outer transaction's pending events (we do not nest savepoints).
    if (event.queryRunner.isTransactionActive) return;
    this.pending.delete(event.queryRunner);
  }
}
