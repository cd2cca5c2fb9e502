export * from './varint.js';
export * from './bytes.js';
export * from './record.js';
export * from './messages.js';
export * from './status.js';
