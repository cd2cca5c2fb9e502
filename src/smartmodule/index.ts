export { loadModule, describe, SmartModule, DEFAULT_MEMORY_LIMIT, TRANSFORM_EXPORTS, type ModuleDescriptor, type LoadOptions } from './module.js';
export { SmartModuleInstance } from './instance.js';
export { Chain, type ChainStep, type ChainOptions, type ChainOutput, type ErrorPolicy, type ModuleMetrics } from './chain.js';
export * from './errors.js';
export * from './types.js';
export { defaultLogger } from './sandbox.js';
export { engineValidator } from './validate.js';
