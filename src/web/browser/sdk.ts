// The SDK the pages are built on. TEMPORARY: re-exports the local shim until src/client/sdk.ts lands.
export { BlueMarbleClient } from './sdk-shim.ts';
