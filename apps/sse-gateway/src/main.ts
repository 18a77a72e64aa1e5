import { main } from '@tidings/runtime';
import type { SseGatewayConfig } from './sse-gateway.config';
import { SseGatewayModule } from './sse-gateway.module';

main<SseGatewayConfig>(() => SseGatewayModule.forRoot(process.env), {
  app: 'sse-gateway',
  port: (c) => c.SSE_PORT,
});
