import { main } from '@tidings/runtime';
import type { ApiConfig } from './api.config';
import { ApiModule } from './api.module';
import { setupOpenApi } from './docs/openapi';

main<ApiConfig>(() => ApiModule.forRoot(process.env), {
  app: 'api',
  port: (c) => c.API_PORT,
  configure: (app) => setupOpenApi(app),
});
