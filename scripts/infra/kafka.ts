import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './ports';

// Kafka 4.1: the current 4.x line that kafkajs 2.2.4 was verified against here (produce with the idempotent
// producer, consumer groups with manual commits, admin); see README "Kafka version".
export const KAFKA_VERSION = '4.1.1';
const POM = join(__dirname, 'kafka', 'pom.xml');

export interface KafkaBroker {
  brokers: string[];
  /** Controlled shutdown (SIGTERM); SIGKILL after 20 s. */
  stop(): Promise<void>;
  /** Crash (SIGKILL), for fault tests. */
  kill(): Promise<void>;
  /** Starts the same broker again: same ports, same data. */
  start(): Promise<void>;
}

export function kafkaLibsDir(version = KAFKA_VERSION): string {
  return join(
    process.env.TIDINGS_CACHE_DIR ?? join(homedir(), '.cache', 'tidings'),
    `kafka-${version}`,
    'libs',
  );
}

export function kafkaJarsCached(version = KAFKA_VERSION): boolean {
  return existsSync(join(kafkaLibsDir(version), '.complete'));
}

/**
 * Downloads the broker's jars with Maven once; later runs reuse the cache. Maven writes into a private
 * staging dir that is renamed into place when complete, so concurrent first runs (several `npm test`s)
 * never see a half-filled cache; the `.complete` marker is what "cached" means.
 */
export function resolveKafkaJars(
  version = KAFKA_VERSION,
  log: (line: string) => void = () => undefined,
): string {
  const libs = kafkaLibsDir(version);
  if (kafkaJarsCached(version)) return libs;
  const staging = `${libs}.${process.pid}.${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  log(`resolving Apache Kafka ${version} jars from Maven Central into ${libs} (once)…`);
  const started = Date.now();
  try {
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        POM,
        `-Dkafka.version=${version}`,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${staging}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    writeFileSync(join(staging, '.complete'), `${readdirSync(staging).length} jars\n`);
    if (kafkaJarsCached(version)) {
      rmSync(staging, { recursive: true, force: true }); // another run finished first
    } else {
      rmSync(libs, { recursive: true, force: true }); // an incomplete cache from an older layout
      renameSync(staging, libs);
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`Maven could not resolve Apache Kafka ${version} (${POM}): ${String(error)}`);
  }
  log(`Kafka jars resolved in ${Date.now() - started} ms`);
  return libs;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const LOG4J2 = `rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = INFO
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
`;

function serverProperties(dataDir: string, port: number, controllerPort: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(dataDir, 'logs')}`,
    // One node: every replication factor and ISR is 1.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    // One offsets partition and no initial rebalance delay: the first consumer group joins in milliseconds.
    'offsets.topic.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=2',
    'num.partitions=6',
    // Topics are created explicitly (consuming a just-auto-created topic can fail on KRaft).
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

async function waitReady(
  brokers: string[],
  child: ChildProcess,
  logFile: string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const kafka = new Kafka({
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  });
  for (let delay = 200; ; delay = Math.min(delay * 1.5, 2_000)) {
    if (child.exitCode !== null)
      throw new Error(`Kafka exited with code ${child.exitCode} while starting:\n${tail(logFile)}`);
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      return;
    } catch {
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`Kafka not ready after ${timeoutMs} ms:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Starts a single-node KRaft broker (broker + controller in one JVM) on 127.0.0.1 with Java 17. */
export async function startKafka(opts: {
  dataDir: string;
  port?: number;
  controllerPort?: number;
  version?: string;
  log?: (l: string) => void;
}): Promise<KafkaBroker> {
  const libs = resolveKafkaJars(opts.version, opts.log);
  const port = opts.port ?? (await freePort());
  const controllerPort = opts.controllerPort ?? (await freePort());
  mkdirSync(opts.dataDir, { recursive: true });
  const props = join(opts.dataDir, 'server.properties');
  const log4j = join(opts.dataDir, 'log4j2.properties');
  const logFile = join(opts.dataDir, 'kafka.log');
  writeFileSync(props, serverProperties(opts.dataDir, port, controllerPort));
  writeFileSync(log4j, LOG4J2);
  const java = (args: string[]) => ['-cp', `${libs}/*`, `-Dlog4j2.configurationFile=${log4j}`, ...args];
  if (!existsSync(join(opts.dataDir, 'logs', 'meta.properties'))) {
    const clusterId = execFileSync('java', java(['kafka.tools.StorageTool', 'random-uuid']), {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop()!;
    try {
      execFileSync(
        'java',
        java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--ignore-formatted']),
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (error) {
      // Its own words, so a failure says why (it is otherwise silent about it).
      const { status, signal, stdout, stderr } = error as {
        status?: number;
        signal?: string;
        stdout?: string;
        stderr?: string;
      };
      throw new Error(
        `Kafka's StorageTool format failed (exit ${status ?? '-'}, signal ${signal ?? '-'}):\n${stdout ?? ''}${stderr ?? ''}`,
      );
    }
  }
  const brokers = [`127.0.0.1:${port}`];
  let child: ChildProcess | undefined;

  // Safety net: if the owner exits without stop(), the broker must not outlive it.
  const onExit = () => child?.kill('SIGKILL');
  process.on('exit', onExit);

  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const out = openSync(logFile, 'a');
    child = spawn(
      'java',
      // 512 MB heap and C1-only JIT: one broker for tests and dev, quick to warm up on two cores.
      [
        '-Xms256m',
        '-Xmx512m',
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        ...java(['kafka.Kafka', props]),
      ],
      // Own process group: a terminal's Ctrl-C reaches only the owner, which stops Kafka after the apps.
      { stdio: ['ignore', out, out], detached: true },
    );
    closeSync(out);
    const started = child;
    try {
      await waitReady(brokers, started, logFile);
    } catch (error) {
      started.kill('SIGKILL');
      throw error;
    }
  };

  const waitExit = (signal: NodeJS.Signals, graceMs: number) =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill(signal);
    });

  await start();
  return {
    brokers,
    start,
    stop: async () => {
      await waitExit('SIGTERM', 20_000);
      process.removeListener('exit', onExit);
    },
    kill: () => waitExit('SIGKILL', 5_000),
  };
}
