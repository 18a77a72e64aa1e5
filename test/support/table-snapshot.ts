import type { DataSource } from 'typeorm';

export type TableSnapshot = Record<string, { n: number; sum: string | null }>;

/**
 * Row count and content checksum (md5 of every row's text, in a stable order) of every table of the database:
 * what a refused request must leave unchanged. The table list is read once.
 */
export async function tableSnapshotter(ds: DataSource): Promise<() => Promise<TableSnapshot>> {
  const tables = (
    await ds.query<{ name: string }[]>(
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )
  ).map((t) => t.name);
  return async () =>
    Object.fromEntries(
      await Promise.all(
        tables.map(async (name) => {
          const [row] = await ds.query<{ n: number; sum: string | null }[]>(
            `SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY t::text)) AS sum FROM "${name}" t`,
          );
          return [name, row] as const;
        }),
      ),
    );
}
