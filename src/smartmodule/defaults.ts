const defaults = {
  /** Memory cap of each SmartModule instance (bytes), as Fluvio's. */
  memoryLimitBytes: 1_000_000_000,
};
/** The engine's defaults, in one place. */
export const SMARTMODULE_DEFAULTS: Readonly<typeof defaults> = Object.freeze(defaults);
