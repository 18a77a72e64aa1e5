import { Registry } from 'prom-client';
import type { DataSource, QueryRunner } from 'typeorm';
import { EventMetrics } from './event-metrics.service';

const APPEND_SQL = 'WITH e AS (INSERT INTO event_log (event_id, tenant_id, event_type) VALUES ($1, $2, $3))';

function setup() {
  const registry = new Registry();
  const ds = { subscribers: [] as unknown[] } as unknown as DataSource;
  const sut = new EventMetrics(registry, ds);
  sut.onModuleInit();
  const runner = () => ({ isTransactionActive: true }) as QueryRunner & { isTransactionActive: boolean };
  const append = (queryRunner: QueryRunner, type: string, success = true) =>
    sut.afterQuery({ queryRunner, query: APPEND_SQL, parameters: ['id', 'ten', type], success } as never);
  const end = (queryRunner: QueryRunner & { isTransactionActive: boolean }, how: 'commit' | 'rollback') => {
    queryRunner.isTransactionActive = false;
    if (how === 'commit') sut.afterTransactionCommit({ queryRunner } as never);
    else sut.afterTransactionRollback({ queryRunner } as never);
  };
  const value = async (type: string) =>
    (await sut.appended.get()).values.find((v) => v.labels.event_type === type)?.value ?? 0;
  return { sut, ds, runner, append, end, value };
}

describe('EventMetrics', () => {
  it('subscribes to the DataSource', () => {
    const { sut, ds } = setup();
    expect(ds.subscribers).toContain(sut);
  });

  it('counts appended events by type when their transaction commits', async () => {
    const { runner, append, end, value } = setup();
    const qr = runner();
    append(qr, 'order.created');
    append(qr, 'order.updated');
    append(qr, 'order.updated');
    expect(await value('order.updated')).toBe(0);
    end(qr, 'commit');
    expect(await value('order.created')).toBe(1);
    expect(await value('order.updated')).toBe(2);
  });

  it('does not count events of a rolled-back transaction, nor failed or unrelated queries', async () => {
    const { sut, runner, append, end, value } = setup();
    const rolledBack = runner();
    append(rolledBack, 'order.created');
    end(rolledBack, 'rollback');
    const committed = runner();
    append(committed, 'order.created', false);
    sut.afterQuery({
      queryRunner: committed,
      query: 'INSERT INTO orders (id) VALUES ($1)',
      parameters: ['a', 'b', 'order.created'],
      success: true,
    } as never);
    end(committed, 'commit');
    expect(await value('order.created')).toBe(0);
  });

  it('waits for the outermost commit when a savepoint is released', async () => {
    const { sut, runner, append, end, value } = setup();
    const qr = runner();
    append(qr, 'message.received');
    sut.afterTransactionCommit({ queryRunner: qr } as never);
    expect(await value('message.received')).toBe(0);
    end(qr, 'commit');
    expect(await value('message.received')).toBe(1);
  });
});
