import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  allEventTopics,
  buildEvent,
  buildUntypedEvent,
  CATALOGUE,
  exampleData,
  toKafkaMessage,
  topicFor,
} from '@tidings/events';
import { generateSecret, signPayload } from '@tidings/signing';
import { Kafka, logLevel } from 'kafkajs';
import { webhookBody } from '../apps/webhook-dispatcher/src/deliveries/delivery.worker';
import { eventually } from './support/eventually';
import { ensureTestTopics, kafkaBrokers } from './support/infra';
import { sseHarness } from './support/sse-harness';

/**
 * Every code block of docs/*.md (ts, js, python, go, sh) runs here, as written: each is preceded in its doc by
 * `<!-- snippet: <id> -->` (blank lines between allowed), and HARNESSES[id] runs it — after the snippet's own imports a prelude may bind
 * the names the snippet leaves to the reader (`rawBody`, `enqueue`…), an epilogue starts what it defines;
 * the only edits allowed are host addresses (example.com → the local server). A block without an id or
 * without a harness fails the first test. (Shell blocks of the README run in test/quickstart.int-spec.ts; the
 * walkthrough pages below run in their own tests.)
 */
const ROOT = join(__dirname, '..');
const DOCS = join(ROOT, 'docs');
const exec = promisify(execFile);

// Pages whose blocks are one change to this repository, applied and run together by their own test
// (test/support/doc-walkthrough.ts): adding-a-resource.md by test/adding-a-resource.int-spec.ts.
const WALKTHROUGHS = new Set(['adding-a-resource.md']);

interface Snippet {
  file: string;
  id: string | undefined;
  lang: string;
  code: string;
}

function docSnippets(): Snippet[] {
  const found: Snippet[] = [];
  for (const name of readdirSync(DOCS).filter((f) => f.endsWith('.md') && !WALKTHROUGHS.has(f))) {
    const lines = readFileSync(join(DOCS, name), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const fence = /^```(\S*)\s*$/.exec(lines[i]);
      if (!fence) continue;
      const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
      if (['ts', 'js', 'python', 'go', 'sh'].includes(fence[1])) {
        let above = i - 1;
        while (above > 0 && lines[above].trim() === '') above--;
        const marker = /^<!-- snippet: ([\w-]+) -->$/.exec(lines[above] ?? '');
        found.push({
          file: `docs/${name}`,
          id: marker?.[1],
          lang: fence[1],
          code: lines.slice(i + 1, end).join('\n'),
        });
      }
      i = end;
    }
  }
  return found;
}

const SNIPPETS = docSnippets();
const snippet = (id: string) => SNIPPETS.find((s) => s.id === id)!.code;

/** The snippet's leading import lines, then `prelude`, the rest of it, and `epilogue`. */
function assemble(code: string, prelude = '', epilogue = ''): string {
  const lines = code.split('\n');
  let split = 0;
  for (let i = 0; i < lines.length; i++) {
    if (/^import /.test(lines[i])) {
      while (!/;\s*$/.test(lines[i])) i++;
      split = i + 1;
    } else if (lines[i].trim() !== '') break;
  }
  return [...lines.slice(0, split), prelude, ...lines.slice(split), epilogue].join('\n');
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tidings-snippets-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a TypeScript/JavaScript program and starts it with ts-node, resolving packages from this repo. */
function startNode(name: string, source: string, env: Record<string, string> = {}): ChildProcess {
  const file = join(dir, name);
  writeFileSync(file, source);
  return spawn(
    process.execPath,
    [require.resolve('ts-node/dist/bin'), '--transpile-only', '-r', 'tsconfig-paths/register', file],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...env,
        NODE_PATH: join(ROOT, 'node_modules'),
        TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Resolves with the child's output once `pattern` appears in its stdout; rejects if it exits first. */
function output(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; stdout: ${out}; stderr: ${err}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!pattern.test(out)) reject(new Error(`exited ${code}; stdout: ${out}; stderr: ${err}`));
    });
  });
}

async function run(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

/** A delivery exactly as the dispatcher renders and signs it, plus the same bytes with one changed. */
function delivery(secrets: string[]) {
  const def = CATALOGUE.find((d) => d.type === 'order.created')!;
  const v = def.versions.at(-1)!;
  const envelope = {
    ...buildUntypedEvent({
      eventType: def.type,
      version: v.version,
      data: v.example,
      tenantId: 'ten_docs',
      resourceId: 'ord_docs',
      sequence: 1,
      source: 'tidings/api',
    }),
    position: 4242,
  };
  const body = webhookBody(envelope, v.version);
  const headers = {
    'content-type': 'application/json',
    ...signPayload({ id: envelope.eventId, timestamp: Math.floor(Date.now() / 1000), body, secrets }),
  };
  return { envelope, body, headers, tampered: body.replace('"ord_docs"', '"ord_d0cs"') };
}

/** Starts an Express snippet (epilogue: listen on a free port), posts a good and a tampered delivery. */
async function expressSnippet(code: string, name: string, env: Record<string, string>, signWith: string) {
  const d = delivery([signWith]);
  const child = startNode(
    name,
    assemble(
      code,
      '',
      `const server = app.listen(0, '127.0.0.1', () => console.log('PORT ' + (server.address() as import('node:net').AddressInfo).port));`,
    ),
    env,
  );
  try {
    const port = /PORT (\d+)/.exec(await output(child, /PORT \d+/))![1];
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${port}/webhooks/tidings`, { method: 'POST', headers: d.headers, body });
    const good = await post(d.body);
    const bad = await post(d.tampered);
    return { good: good.status, bad: bad.status, badType: bad.headers.get('content-type') };
  } finally {
    child.kill();
  }
}

/** A producer onto the shared broker, and order.shipped events of the docs' order to publish with it. */
async function docsProducer() {
  const producer = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  return {
    events: {
      shipped: () =>
        buildEvent({
          eventType: 'order.shipped',
          data: exampleData('order.shipped'),
          tenantId: 'ten_docs',
          resourceId: 'ord_docs',
          sequence: 3,
          source: 'tidings/api',
        }),
      close: () => producer.disconnect(),
    },
    send: async (messages: { key: string; value: string; headers?: Record<string, string> }[]) => {
      await producer.send({
        topic: topicFor('order'),
        messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
    },
  };
}

/** True once `value` is on `topic` (read from its start by a throwaway group). */
async function deadLettered(topic: string, value: string): Promise<boolean> {
  const reader = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).consumer({
    groupId: `docs-reader-${randomUUID()}`,
  });
  const dead: string[] = [];
  await reader.connect();
  try {
    await reader.subscribe({ topics: [topic], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message: m }) => {
        dead.push(m.value?.toString() ?? '');
      },
    });
    await eventually(() => expect(dead).toContain(value), { timeoutMs: 30_000 });
    return true;
  } finally {
    await reader.disconnect();
  }
}

const HARNESSES: Record<string, () => Promise<void>> = {
  'webhook-node-standardwebhooks': async () => {
    const secret = generateSecret();
    const r = await expressSnippet(
      snippet('webhook-node-standardwebhooks'),
      'standardwebhooks.ts',
      { TIDINGS_WEBHOOK_SECRET: secret },
      secret,
    );
    expect(r).toMatchObject({ good: 204, bad: 400 });
  },
  'webhook-node-middleware': async () => {
    // Signed with the old secret during a rotation: the second entry verifies it.
    const [current, old] = [generateSecret(), generateSecret()];
    const r = await expressSnippet(
      snippet('webhook-node-middleware'),
      'middleware.ts',
      { TIDINGS_WEBHOOK_SECRET: current, TIDINGS_WEBHOOK_SECRET_OLD: old },
      old,
    );
    expect(r).toEqual({ good: 204, bad: 400, badType: expect.stringContaining('application/problem+json') });
  },
  'webhook-node-crypto': async () => {
    const secret = generateSecret();
    const d = delivery([secret]);
    const out = await output(
      startNode(
        'crypto.ts',
        assemble(
          snippet('webhook-node-crypto'),
          '',
          `const c = JSON.parse(process.env.CASE!);
console.log('RESULT ' + JSON.stringify([verify(c.body, c.headers, c.secret), verify(c.tampered, c.headers, c.secret)]));`,
        ),
        { CASE: JSON.stringify({ ...d, secret }) },
      ),
      /RESULT .*\n/,
    );
    expect(out).toContain('RESULT [true,false]');
  },
  'verification-middleware': async () => {
    const secret = generateSecret();
    const d = delivery([secret]);
    const child = startNode(
      'verification-middleware.ts',
      assemble(
        snippet('verification-middleware'),
        '',
        `function enqueue(id: string, payload: unknown) { console.log('ENQUEUED ' + id + ' ' + JSON.stringify(payload).length); }
const server = app.listen(0, '127.0.0.1', () => console.log('PORT ' + (server.address() as import('node:net').AddressInfo).port));`,
      ),
      { TIDINGS_WEBHOOK_SECRET: secret },
    );
    try {
      const logged = output(child, /ENQUEUED/);
      const port = /PORT (\d+)/.exec(await output(child, /PORT \d+/))![1];
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/tidings`, {
        method: 'POST',
        headers: d.headers,
        body: d.body,
      });
      expect(res.status).toBe(204);
      expect(await logged).toContain(`ENQUEUED ${d.envelope.eventId}`);
    } finally {
      child.kill();
    }
  },
  'verification-verify-payload': async () => {
    const secret = generateSecret();
    const d = delivery([secret]);
    const verifyOne = (body: string) =>
      run(
        startNode(
          `verify-payload-${randomUUID()}.ts`,
          assemble(
            snippet('verification-verify-payload'),
            `const c = JSON.parse(process.env.CASE!);
const rawBody: string = c.body;
const req = { headers: c.headers as Record<string, string> };
const secret: string = c.secret;`,
            `console.log('VERIFIED');`,
          ),
          { CASE: JSON.stringify({ body, headers: d.headers, secret }) },
        ),
      );
    const good = await verifyOne(d.body);
    expect(good).toMatchObject({ code: 0, stdout: expect.stringContaining('VERIFIED') });
    const bad = await verifyOne(d.tampered);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('invalid_signature');
  },
  'webhook-python-flask': async () => {
    const secret = generateSecret();
    const d = delivery([secret]);
    const file = join(dir, 'flask_receiver.py');
    writeFileSync(
      file,
      `${snippet('webhook-python-flask')}

import json
case = json.loads(os.environ["CASE"])
client = app.test_client()
for body in (case["body"], case["tampered"]):
    print(client.post("/webhooks/tidings", data=body.encode(), headers=case["headers"]).status_code)
`,
    );
    const { stdout } = await exec('python3', [file], {
      env: { ...process.env, TIDINGS_WEBHOOK_SECRET: secret, CASE: JSON.stringify(d) },
    });
    expect(stdout.trim().split('\n')).toEqual(['204', '400']);
  },
  'webhook-go': async () => {
    const secret = generateSecret();
    const d = delivery([secret]);
    const file = join(dir, 'verify.go');
    writeFileSync(
      file,
      `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

${snippet('webhook-go')}

func main() {
	var c struct {
		Body     string            \`json:"body"\`
		Tampered string            \`json:"tampered"\`
		Headers  map[string]string \`json:"headers"\`
		Secret   string            \`json:"secret"\`
	}
	if err := json.Unmarshal([]byte(os.Getenv("CASE")), &c); err != nil {
		panic(err)
	}
	for _, body := range []string{c.Body, c.Tampered} {
		r, _ := http.NewRequest("POST", "/webhooks/tidings", strings.NewReader(body))
		for k, v := range c.Headers {
			r.Header.Set(k, v)
		}
		raw, err := verify(r, c.Secret)
		fmt.Println(err == nil && string(raw) == body)
	}
}
`,
    );
    const { stdout } = await exec('go', ['run', file], {
      cwd: dir,
      env: { ...process.env, CASE: JSON.stringify({ ...d, secret }) },
      timeout: 240_000,
    });
    expect(stdout.trim().split('\n')).toEqual(['true', 'false']);
  },
  'kafka-consumer': async () => {
    // The snippet reads the unprefixed topics (allEventTopics()) with group `billing`: give it one valid event
    // and one poison record, and see the first applied and the second on billing.dead-letter.
    await ensureTestTopics('', [...allEventTopics(), 'billing.dead-letter'], 1);
    const brokers = kafkaBrokers();
    const code = snippet('kafka-consumer').replace("['127.0.0.1:9092']", JSON.stringify(brokers));
    const child = startNode(
      `kafka-consumer-${randomUUID()}.ts`,
      assemble(
        code,
        '(async () => {',
        `async function applyOnce(event: { eventId: string }) { console.log('APPLIED ' + event.eventId); }\nconsole.log('STARTED');\n})();`,
      ),
    );
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    try {
      await output(child, /STARTED/);
      const d = delivery([generateSecret()]);
      const applied = output(child, new RegExp(`APPLIED ${d.envelope.eventId}`));
      await producer.connect();
      const poison = `poison-${randomUUID()}`;
      const message = toKafkaMessage(d.envelope);
      await producer.send({ topic: topicFor('order'), messages: [{ key: 'ord_docs', value: poison }] });
      await producer.send({
        topic: message.topic,
        messages: [{ key: message.key, value: message.value, headers: message.headers }],
      });
      await applied;
      expect(await deadLettered('billing.dead-letter', poison)).toBe(true);
    } finally {
      child.kill();
      await producer.disconnect();
    }
  },
  'kafka-nest': async () => {
    // The snippet's service consumes the unprefixed events.order with group `shipping`: give it a shipped order
    // and a poison record, and see the first booked and the second on shipping.dead-letter.
    await ensureTestTopics('', [topicFor('order'), 'shipping.dead-letter'], 1);
    const brokers = kafkaBrokers();
    const code = snippet('kafka-nest').replace("['127.0.0.1:9092']", JSON.stringify(brokers));
    const child = startNode(
      `kafka-nest-${randomUUID()}.ts`,
      assemble(
        code,
        '(async () => {',
        `async function bookPickup(eventId: string, orderId: string, carrier: string | null) { console.log('PICKUP ' + eventId + ' ' + orderId + ' ' + carrier); }\nconsole.log('STARTED');\n})();`,
      ),
    );
    const { events, send } = await docsProducer();
    try {
      await output(child, /STARTED/);
      const shipped = { ...events.shipped(), position: 4243 };
      const booked = output(
        child,
        new RegExp(`PICKUP ${shipped.eventId} ${shipped.data.orderId} ${shipped.data.carrier}`),
      );
      const poison = `poison-${randomUUID()}`;
      await send([{ key: 'ord_docs', value: poison }, toKafkaMessage(shipped)]);
      await booked;
      expect(await deadLettered('shipping.dead-letter', poison)).toBe(true);
    } finally {
      child.kill();
      await events.close();
    }
  },
  'kafka-python-cloudevents': async () => {
    // Python reads the unprefixed events.order from its start with the CloudEvents SDK; the prelude's
    // count_order prints what the SDK gave it and stops at the v2 order.created this test publishes.
    const install = spawnSync('bash', [join(ROOT, 'test/docs-python/install.sh')], { encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`test/docs-python/install.sh failed:\n${install.stderr}`);
    await ensureTestTopics('', [topicFor('order')], 1);
    const d = delivery([generateSecret()]);
    const { events, send } = await docsProducer();
    try {
      await send([{ key: 'ord_docs', value: `poison-${randomUUID()}` }, toKafkaMessage(d.envelope)]);
    } finally {
      await events.close();
    }
    const file = join(dir, 'kafka_cloudevents.py');
    writeFileSync(
      file,
      `import json, os, sys
def count_order(event_id, tenant_id, total_minor):
    print(json.dumps({"id": event_id, "tenantId": tenant_id, "totalMinor": total_minor, "type": event.get_type(), "subject": event.get_subject(), "partitionkey": event.get_extension("partitionkey"), "sequence": envelope["sequence"]}), flush=True)
    if event_id == os.environ["EXPECTED"]:
        sys.exit(0)

${snippet('kafka-python-cloudevents')
  .replace('"127.0.0.1:9092"', JSON.stringify(kafkaBrokers().join(',')))
  .replace('"analytics"', `"docs-${randomUUID()}"`)}
`,
    );
    const { stdout } = await exec(join(ROOT, '.tidings/docs-python-venv/bin/python'), [file], {
      env: { ...process.env, EXPECTED: d.envelope.eventId },
      timeout: 120_000,
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toEqual({
      id: d.envelope.eventId,
      tenantId: 'ten_docs',
      totalMinor: (d.envelope.data as { totalMinor: number }).totalMinor,
      type: 'order.created',
      subject: 'ord_docs',
      partitionkey: 'ord_docs',
      sequence: 1,
    });
  },
  'kafka-kcat': async () => {
    await ensureTestTopics('', [topicFor('order')], 1);
    const { events, send } = await docsProducer();
    const shipped = { ...events.shipped(), position: 4244 };
    try {
      await send([toKafkaMessage(shipped)]);
    } finally {
      await events.close();
    }
    const code = snippet('kafka-kcat').replace('127.0.0.1:9092', kafkaBrokers().join(','));
    const { stdout } = await exec('bash', ['-c', `set -o pipefail\n${code}`], { timeout: 60_000 });
    const line = stdout.split('\n').find((l) => l.includes(shipped.eventId))!;
    expect(line).toContain(`ce_id=${shipped.eventId}`);
    expect(JSON.parse(line.split('\t')[1])).toEqual(shipped);
  },
  'sse-browser': async () => {
    const h = await sseHarness();
    try {
      const gateway = await h.startGateway();
      const tenant = await h.createTenant();
      const token = await h.createStreamToken(tenant, { eventTypes: ['order.*'] });
      const code = snippet('sse-browser').replace('https://sse.example.com', gateway.url);
      const child = startNode(
        'sse-browser.js',
        `const { EventSource } = require('eventsource');
const fetch = async () => ({ json: async () => ({ token: process.env.TOKEN }) });
(async () => {
${code}
es.onopen = () => console.log('OPEN');
function render(data) { console.log('RENDERED ' + JSON.stringify(data)); }
function reloadFromApi() { console.log('RELOAD'); }
})();`,
        { TOKEN: token },
      );
      try {
        await output(child, /OPEN/);
        const rendered = output(child, /RENDERED .*\n/);
        const event = await h.append(
          tenant.tenantId,
          'order.created',
          'ord_sse_docs',
          exampleData('order.created'),
        );
        const out = await rendered;
        const data = JSON.parse(/RENDERED (.*)\n/.exec(out)![1]) as { eventId: string };
        expect(data.eventId).toBe(event.eventId);
      } finally {
        child.kill();
      }
    } finally {
      await h.teardown();
    }
  },
};

describe('code in the docs', () => {
  it('every ts/js/python/go/sh block in docs/ has a snippet id that a harness here runs', () => {
    const untested = SNIPPETS.filter((s) => !s.id || !HARNESSES[s.id]).map(
      (s) => `${s.file}: ${s.id ?? 'no <!-- snippet: id --> marker'} (${s.lang})`,
    );
    expect(untested).toEqual([]);
    const ids = SNIPPETS.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  for (const s of SNIPPETS.filter((x) => x.id && HARNESSES[x.id]))
    it(`${s.file}: ${s.id} runs as documented`, HARNESSES[s.id!], 300_000);
});
