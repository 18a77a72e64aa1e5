import type { DataSource } from 'typeorm';
import { eventually } from './eventually';
import type { ReadRecord } from './kafka-reader';

/**
 * Every written event reached Kafka; a repeat is the same event (same eventId, position and bytes); each
 * tenant's positions are dense and unique (1..N).
 */
export function expectComplete(records: ReadRecord[], written: { eventId: string }[]): void {
  const byId = new Map<string, string>();
  for (const r of records) {
    const bytes = JSON.stringify(r.event);
    const seen = byId.get(r.event.eventId);
    if (seen !== undefined) expect(bytes).toBe(seen);
    byId.set(r.event.eventId, bytes);
  }
  expect(new Set(byId.keys())).toEqual(new Set(written.map((w) => w.eventId)));
  const byTenant = new Map<string, number[]>();
  for (const e of new Map(records.map((r) => [r.event.eventId, r.event])).values())
    byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e.position!]);
  for (const positions of byTenant.values()) {
    positions.sort((a, b) => a - b);
    expect(positions).toEqual(positions.map((_, i) => i + 1));
  }
}

/** Per key: one partition, sequences 1..n in offset order (duplicates of a redelivery aside). */
export function expectPerResourceOrder(records: ReadRecord[]): void {
  const byKey = new Map<string, ReadRecord[]>();
  for (const r of records) byKey.set(r.key!, [...(byKey.get(r.key!) ?? []), r]);
  for (const list of byKey.values()) {
    expect(new Set(list.map((r) => `${r.topic}/${r.partition}`)).size).toBe(1);
    const sorted = [...list].sort((a, b) => a.offset - b.offset);
    const firstSeen: number[] = [];
    for (const r of sorted) if (!firstSeen.includes(r.event.sequence)) firstSeen.push(r.event.sequence);
    expect(firstSeen).toEqual(firstSeen.map((_, i) => i + 1));
  }
}

/** A readTopics predicate: every written event has been read. */
export const hasAll = (written: { eventId: string }[]) => (records: ReadRecord[]) => {
  const ids = new Set(records.map((r) => r.event.eventId));
  return written.every((w) => ids.has(w.eventId));
};

/** Eventually nothing in the outbox is left unpublished (parked rows included: they count as unpublished). */
export async function expectOutboxDrained(ds: DataSource): Promise<void> {
  await eventually(async () => {
    const [{ pending }] = (await ds.query(
      'SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL',
    )) as { pending: number }[];
    expect(pending).toBe(0);
  });
}
