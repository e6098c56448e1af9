/** Warren's product name and version, as announced in connection.start and status. */
export const PRODUCT = "Warren";
export const VERSION = "0.1.0";
