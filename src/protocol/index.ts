export * from './bytes.js';
export * from './messages.js';
export * from './record.js';
export * from './status.js';
export * from './varint.js';
