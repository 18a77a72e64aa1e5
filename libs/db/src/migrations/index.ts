import { Initial1795875145532 } from './1795875145532-Initial';
import { SeedSequencer1795875145533 } from './1795875145533-SeedSequencer';
import { StreamTokens1795875414086 } from './1795875414086-StreamTokens';
import { WebhookDeliveryOpenResourceIndex1795876481180 } from './1795876481180-WebhookDeliveryOpenResourceIndex';
import { WebhookLifecycle1796236876926 } from './1796236876926-WebhookLifecycle';
import { RelayParkedEvents1796237056261 } from './1796237056261-RelayParkedEvents';
import { TenantPositions1796300000000 } from './1796300000000-TenantPositions';
import { RelayShards1796300100000 } from './1796300100000-RelayShards';
import { SubscriptionMaxInFlight1796420822840 } from './1796420822840-SubscriptionMaxInFlight';
import { OutboxEventLogIdUnindexed1796425319335 } from './1796425319335-OutboxEventLogIdUnindexed';

// Append-only: generate with `npm run db:generate -- libs/db/src/migrations/<Name>`, read it, list it here.
export const MIGRATIONS = [
  Initial1795875145532,
  SeedSequencer1795875145533,
  StreamTokens1795875414086,
  WebhookDeliveryOpenResourceIndex1795876481180,
  WebhookLifecycle1796236876926,
  RelayParkedEvents1796237056261,
  TenantPositions1796300000000,
  RelayShards1796300100000,
  SubscriptionMaxInFlight1796420822840,
  OutboxEventLogIdUnindexed1796425319335,
];
