// Public surface of the wire protocol. Pure module: safe to bundle for browsers.
export * from './types.ts';
export * from './crc32.ts';
export * from './codec.ts';
export * from './zone-id.ts';
export * from './quantize.ts';
export * from './messages.ts';
export * from './frame.ts';
export * from './history.ts';
