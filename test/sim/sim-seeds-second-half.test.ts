import { CI_SEEDS, simulateSeedRange } from "./sim-seeds.js";

simulateSeedRange(CI_SEEDS / 2 + 1, CI_SEEDS / 2);
