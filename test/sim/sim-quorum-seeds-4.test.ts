import { simulateQuorumSeedShare } from "./quorum-queue-sim-campaign.js";

simulateQuorumSeedShare(4);
