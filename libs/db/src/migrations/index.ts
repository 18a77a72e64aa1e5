import { Initial1795875145532 } from './1795875145532-Initial';
import { SeedSequencer1795875145533 } from './1795875145533-SeedSequencer';

// Append-only: generate with `npm run db:generate -- libs/db/src/migrations/<Name>`, read it, list it here.
export const MIGRATIONS = [Initial1795875145532, SeedSequencer1795875145533];
