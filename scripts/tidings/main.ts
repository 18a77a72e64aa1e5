/**
 * `npm run tidings -- <command>`: the Tidings command line, for developers (against a running stack, through
 * its HTTP APIs) and operators (straight on the database). Commands load what they need only when they
 * run, so `--help` answers at once and the operator commands work in the production image (no dev
 * dependencies there). Exit codes: 0 done, 1 the command failed, 64 usage error, 78 missing configuration.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const EXIT = { ok: 0, failed: 1, usage: 64, config: 78 } as const;

/** A failure the user can act on: printed as is (no stack), with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export const USAGE = `Usage: npm run tidings -- <command> [options]

Developer commands (talk to a running stack; TIDINGS_API_URL, default http://127.0.0.1:3000,
TIDINGS_SSE_URL, default http://127.0.0.1:3001, and the tenant's key in TIDINGS_API_KEY or --api-key):
  listen --forward-to <url> [--types order.*,…] [--secret whsec_…] [--since <position>]
        Streams the tenant's events over SSE, resuming with Last-Event-ID after any disconnect and after
        TIDINGS_LISTEN_IDLE_MS (default 45000) of silence, so a laptop that sleeps misses nothing; signs
        each with a local secret (Standard Webhooks; printed at start unless given), POSTs it to <url> and
        prints one line per event: status and latency.
  resend <eventId> --forward-to <url> [--secret whsec_…]
        Fetches a past event from the event log and forwards it once, signed, like listen does.
  trigger <eventType>
        Creates a sample resource through the API so that the event happens: order.created, message.received.
  receive [--port 4000] [--host 127.0.0.1] [--path /webhooks] [--secret whsec_…]
        A local webhook receiver: verifies every request with the secret (or TIDINGS_WEBHOOK_SECRET), answers
        204 (400 when the signature is wrong) and prints one line per request.

Operator commands (on the database: DATABASE_URL):
  bootstrap-dev                      the tenant named "dev" (created when missing) and a fresh admin key
  create-tenant <name>               a tenant and its first admin key
  create-key <tenantId> [--name <name>] [--scopes read,write,admin]
                                     another API key for a tenant (default scopes: admin)
  rebuild [--apply]                  folds the event log into fresh projections and compares them with the
                                     live tables (exit 1 on a difference); --apply replaces them

Output: operator commands print one JSON object. Exit codes: 0 done, 1 failed, 64 usage, 78 configuration.
  --help, -h                         this text`;

export interface CliEnv {
  apiUrl: string;
  sseUrl: string;
  apiKey?: string;
  databaseUrl?: string;
  webhookSecret?: string;
  /** listen drops a stream silent for this long and resumes it (a slept laptop's dead connection). */
  listenIdleMs: number;
}

// Three missed heartbeats of the gateway's default 15 s (SSE_HEARTBEAT_MS): the connection is gone.
const DEFAULT_LISTEN_IDLE_MS = 45_000;

// The only place the CLI reads its environment.
export function cliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const idle = env.TIDINGS_LISTEN_IDLE_MS;
  if (idle !== undefined && !/^[1-9][0-9]*$/.test(idle)) {
    throw new CliError(
      `TIDINGS_LISTEN_IDLE_MS must be a positive number of milliseconds, got ${idle}`,
      EXIT.config,
    );
  }
  return {
    listenIdleMs: idle === undefined ? DEFAULT_LISTEN_IDLE_MS : Number(idle),
    apiUrl: (env.TIDINGS_API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''),
    sseUrl: (env.TIDINGS_SSE_URL ?? 'http://127.0.0.1:3001').replace(/\/+$/, ''),
    apiKey: env.TIDINGS_API_KEY || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    webhookSecret: env.TIDINGS_WEBHOOK_SECRET || undefined,
  };
}

/** Parses a command's options strictly: an unknown option or a missing value is a usage error. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${USAGE}`, EXIT.usage);
  }
}

export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new CliError(`${what} is required\n\n${USAGE}`, EXIT.usage);
  return value;
}

export function needApiKey(env: CliEnv, given: string | undefined): string {
  const key = given ?? env.apiKey;
  if (!key) {
    throw new CliError(
      'an API key is required: set TIDINGS_API_KEY (a tdk_… key of your tenant) or pass --api-key',
      EXIT.config,
    );
  }
  return key;
}

const OPERATOR = new Set(['bootstrap-dev', 'create-tenant', 'create-key', 'rebuild']);

export async function run(argv: string[], env: CliEnv = cliEnv()): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (OPERATOR.has(command)) {
    if (!env.databaseUrl) {
      throw new CliError(
        `${command} works on the database: set DATABASE_URL (npm run dev prints it), e.g. ` +
          'DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/tidings',
        EXIT.config,
      );
    }
    const { runOperatorCommand } = await import('../../apps/api/src/cli');
    return runOperatorCommand(env.databaseUrl, command, args);
  }
  switch (command) {
    case 'listen':
      return (await import('./listen')).listen(args, env);
    case 'resend':
      return (await import('./listen')).resend(args, env);
    case 'receive':
      return (await import('./receive')).receive(args, env);
    case 'trigger':
      return (await import('./trigger')).trigger(args, env);
    default:
      throw new CliError(`unknown command: ${command}\n\n${USAGE}`, EXIT.usage);
  }
}

if (require.main === module) {
  Promise.resolve()
    .then(() => run(process.argv.slice(2)))
    .then(
      (code) => {
        // Long-running commands (listen, receive) resolve only when they stop.
        process.exitCode = code;
      },
      (error: unknown) => {
        const cli = error instanceof CliError;
        process.stderr.write(`tidings: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(cli ? error.exitCode : EXIT.failed);
      },
    );
}
