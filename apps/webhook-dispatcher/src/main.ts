import { main } from '@tidings/runtime';
import type { WebhookDispatcherConfig } from './webhook-dispatcher.config';
import { WebhookDispatcherModule } from './webhook-dispatcher.module';

main<WebhookDispatcherConfig>(() => WebhookDispatcherModule.forRoot(process.env), {
  app: 'webhook-dispatcher',
  port: (c) => c.DISPATCHER_PORT,
});
