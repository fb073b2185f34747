// Bundles the CLI (src/cli/main.ts and everything it imports, dependencies included) into
// dist/bundle/ with code-splitting, so each command's lazily imported code stays a separate chunk.
// Why: Node 20 has no module compile cache, and resolving/compiling ~300 separate ES modules made
// `swiftdeploy init` about 4.5x a bare `node -e 0`; one module graph per command is much cheaper
// (figures in bench/README.md, ## startup). The deployed app (src/app) is not bundled: its image
// ships tsc output and production node_modules.
import { build } from 'esbuild';

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
  // Some bundled dependencies (handlebars, yaml's CJS fallbacks) call require(); give ESM one.
  banner: { js: "import { createRequire as __swiftdeployRequire } from 'node:module'; const require = __swiftdeployRequire(import.meta.url);" },
});
