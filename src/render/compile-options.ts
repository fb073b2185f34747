/**
 * How every template is compiled, at build time (scripts/precompile-templates.mjs) and at run time
 * (render.ts): strict (a missing variable throws) and unescaped (this is config, not HTML; the values
 * are validated by the manifest schema). One constant so the two cannot differ.
 */
export const COMPILE_OPTIONS = { strict: true, noEscape: true } as const;
