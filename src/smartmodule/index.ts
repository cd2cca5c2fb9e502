export {
  Chain,
  type ChainOptions,
  type ChainOutput,
  type ChainStep,
  type ErrorPolicy,
  type ModuleMetrics,
} from './chain.js';
export * from './errors.js';
export { SmartModuleInstance } from './instance.js';
export {
  DEFAULT_MEMORY_LIMIT,
  describe,
  type LoadOptions,
  loadModule,
  type ModuleDescriptor,
  SmartModule,
  TRANSFORM_EXPORTS,
} from './module.js';
export { defaultLogger } from './sandbox.js';
export * from './types.js';
export { engineValidator } from './validate.js';
