import { CI_SEEDS, simulateSeedRange } from "./sim-seeds.js";

simulateSeedRange(1, CI_SEEDS / 2);
