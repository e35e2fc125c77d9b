// The browser bundles (player client and ops dashboard), built with esbuild in memory the first
// time they are asked for, then kept: each asset has its bytes, a gzipped copy and an ETag.
// Nothing is written to disk, so `npm start` needs no build step.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface Asset {
  name: string;
  contentType: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

export interface Bundles {
  assets: ReadonlyMap<string, Asset>;
  /** Source files that went into each bundle (paths relative to the project), for size checks. */
  inputs: ReadonlyMap<string, readonly string[]>;
}

/** Entry points; each is served as /assets/<key>.js. */
export const ENTRY_POINTS = {
  play: fileURLToPath(new URL('./browser/play.ts', import.meta.url)),
  ops: fileURLToPath(new URL('./browser/ops.ts', import.meta.url)),
} as const;

/** Budget for the player bundle, gzipped (the limit). */
export const PLAY_BUNDLE_GZIP_LIMIT = 60 * 1024;

/** Builds both bundles (minified ESM for browsers). Throws esbuild's error when the code does not build. */
export async function buildBundles(): Promise<Bundles> {
  const result = await build({
    entryPoints: ENTRY_POINTS,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outdir: '/assets',
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    if (!name.endsWith('.js')) continue;
    const body = Buffer.from(file.contents);
    assets.set(name, {
      name,
      contentType: 'text/javascript; charset=utf-8',
      body,
      gzip: gzipSync(body, { level: 9 }),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  const inputs = new Map<string, string[]>();
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    const name = out.slice(out.lastIndexOf('/') + 1);
    if (name.endsWith('.js')) inputs.set(name, Object.keys(meta.inputs));
  }
  return { assets, inputs };
}

let cached: Promise<Bundles> | undefined;

/** The bundles of this process, built once (a failed build is retried on the next call). */
export function bundles(): Promise<Bundles> {
  if (!cached) {
    cached = buildBundles();
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}
