// Bundles the CLI (src/cli/main.ts and everything it imports, dependencies included) into
// dist/bundle/ with code-splitting, so each command's lazily imported code stays a separate chunk.
// Why: Node 20 has no module compile cache, and resolving/compiling ~300 separate ES modules made
// `swiftdeploy init` about 4.5x a bare `node -e 0`; one module graph per command is much cheaper
// (figures in bench/README.md, ## startup). The deployed app (src/app) is not bundled: its image
// ships tsc output and production node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';

// zod re-exports all of its ~40 locales as a namespace (`z.locales`), which keeps every one of them
// in the bundle: 297 KB of the 755 KB chunk `init` loads, parsed on every start. swiftdeploy uses
// only English, which zod registers itself (classic/schemas.js imports locales/en.js directly), and
// words its own manifest errors; so the namespace is built from English alone. `z.locales.en` still
// works; any other locale would be undefined, and nothing here asks for one.
const zodLocales = path.join(path.dirname(createRequire(import.meta.url).resolve('zod/v4')), 'locales');
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.startsWith(path.dirname(zodLocales) + path.sep) ? { path: 'zod-locales', namespace: 'zod-english-only' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(zodLocales, 'en.js'))};`,
      resolveDir: zodLocales,
    }));
  },
};

await build({
  entryPoints: { main: 'src/cli/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist/bundle',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [zodEnglishOnly],
  // Some bundled dependencies (handlebars, yaml's CJS fallbacks) call require(); give ESM one.
  banner: { js: "import { createRequire as __swiftdeployRequire } from 'node:module'; const require = __swiftdeployRequire(import.meta.url);" },
});
