import { CI_SEEDS, simulateQueueSeedRange } from "./sim-seeds.js";

simulateQueueSeedRange(1, CI_SEEDS / 2);
