import { main } from '@tidings/runtime';
import type { OutboxRelayConfig } from './outbox-relay.config';
import { OutboxRelayModule } from './outbox-relay.module';

main<OutboxRelayConfig>(() => OutboxRelayModule.forRoot(process.env), {
  app: 'outbox-relay',
  port: (c) => c.RELAY_PORT,
});
