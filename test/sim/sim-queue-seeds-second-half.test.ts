import { CI_SEEDS, simulateQueueSeedRange } from "./sim-seeds.js";

simulateQueueSeedRange(CI_SEEDS / 2 + 1, CI_SEEDS / 2);
