import { Kafka, logLevel } from 'kafkajs';
(async () => {
  const k = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const admin = k.admin(); await admin.connect();
  const topic = `lat${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true }); await admin.disconnect();
  const p = k.producer({ idempotent: true, maxInFlightRequests: 1 }); await p.connect();
  const c = k.consumer({ groupId: topic, maxWaitTimeInMs: Number(process.env.MAXWAIT ?? 1000) }); await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  const lat: number[] = [];
  await c.run({ partitionsConsumedConcurrently: 6, eachBatchAutoResolve: true, autoCommit: process.env.AUTOCOMMIT !== '0', autoCommitInterval: process.env.INTERVAL ? Number(process.env.INTERVAL) : null, eachBatch: async ({ batch }) => {
    for (const m of batch.messages) lat.push(Date.now() - Number(m.value!.toString()));
  } });
  await new Promise((r) => setTimeout(r, 3000));
  const rate = Number(process.env.RATE ?? 200);
  for (let i = 0; i < rate * 5; i++) { await p.send({ topic, acks: -1, messages: [{ key: String(i), value: String(Date.now()) }] }); await new Promise((r) => setTimeout(r, 1000 / rate)); }
  await new Promise((r) => setTimeout(r, 2000));
  lat.sort((a, b) => a - b);
  console.log('n', lat.length, 'p50', lat[Math.floor(lat.length / 2)], 'p99', lat[Math.floor(lat.length * 0.99)]);
  await c.disconnect(); await p.disconnect();
})();
