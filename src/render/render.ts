import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type Handlebars from 'handlebars';
import type { Manifest } from '../manifest/schema.js';
import { packageRoot } from '../util/package-root.js';
import { COMPOSE_FILE, NGINX_CONF, STACK_FILE } from '../util/project-paths.js';
import { COMPILE_OPTIONS } from './compile-options.js';
import { templateContext, type RenderEnvironment, type Rollout } from './context.js';
import { withHeader } from './header.js';

/** A generated file: where it goes (relative to the project dir) and its complete bytes. */
export interface RenderedFile {
  relPath: string;
  template: string;
  content: string;
}

// The generated files' names are spelled once, with everything else swiftdeploy owns, in
// src/util/project-paths.ts; re-exported here for the renderer's callers.
export { COMPOSE_FILE, NGINX_CONF, STACK_FILE };

export const GENERATED = [
  { relPath: NGINX_CONF, template: 'nginx.conf.hbs' },
  { relPath: COMPOSE_FILE, template: 'docker-compose.yml.hbs' },
] as const;

/** With `runtime: swarm`, also the stack file; it names nginx.conf's docker config by its hash. */
export const STACK = { relPath: STACK_FILE, template: 'docker-stack.yml.hbs' } as const;

/** The project's generated compose file, the one every compose command is given with `--file`. */
export function composeFileOf(projectDir: string): string {
  return path.join(projectDir, COMPOSE_FILE);
}

export function templatesDir(): string {
  return path.join(packageRoot(), 'templates');
}

const POLICIES = 'policies';

/**
 * The project's own policies/ when it has one, else the policies shipped with swiftdeploy: as the
 * compose file mounts it, so `./policies` (relative to the compose file) or an absolute path.
 */
export function policiesDirFor(projectDir: string): string {
  return existsSync(path.join(projectDir, POLICIES)) ? `./${POLICIES}` : path.join(packageRoot(), POLICIES);
}

/** The same directory as an absolute path, for reading the policy files and for `opa test`. */
export function policiesPathFor(projectDir: string): string {
  return path.resolve(projectDir, policiesDirFor(projectDir));
}

/**
 * Renders every generated file. Pure in its inputs (manifest, environment, rollout, template text):
 * no clock, no randomness, so the same manifest and rollout give byte-identical output. `rollout`
 * (the canary's current weight) adds the canary track when the manifest has a `canary:` section.
 */
export async function renderAll(
  manifest: Manifest,
  env: RenderEnvironment,
  rollout?: Rollout,
  dir = templatesDir(),
): Promise<RenderedFile[]> {
  const context = templateContext(manifest, env, rollout);
  const render = async (relPath: string, template: string, ctx: object): Promise<RenderedFile> => {
    const source = await readFile(path.join(dir, template), 'utf8');
    return { relPath, template, content: withHeader(await renderTemplate(source, ctx, template)) };
  };
  const files = await Promise.all(GENERATED.map(({ relPath, template }) => render(relPath, template, context)));
  if (manifest.runtime !== 'swarm') return files;
  const nginxConf = files.find((f) => f.relPath === NGINX_CONF)!.content;
  const stack = { nginx_config: nginxConfigName(nginxConf) };
  return [...files, await render(STACK.relPath, STACK.template, { ...context, stack })];
}

/**
 * The stack's docker config holding nginx.conf: named by the file's hash, because a swarm config
 * cannot change once created; `docker stack deploy` prefixes it with the stack's name.
 */
export function nginxConfigName(nginxConf: string): string {
  return `nginx_conf_${createHash('sha256').update(nginxConf).digest('hex').slice(0, 12)}`;
}

/** Strict (a missing variable throws) and unescaped (this is config, not HTML; values are pre-validated). */
export async function renderTemplate(source: string, context: object, name = 'template'): Promise<string> {
  try {
    return (await compileTemplate(source, name))(context);
  } catch (err) {
    throw new Error(`templates/${name}: ${(err as Error).message}`, { cause: err });
  }
}

type TemplateFn = (context: object) => string;

interface PrecompiledTemplates {
  handlebarsVersion: string;
  templates: Record<string, { sha256: string; spec: TemplateSpecification } | undefined>;
}
type TemplateSpecification = Parameters<typeof Handlebars.template>[0];

let precompiled: Promise<PrecompiledTemplates | null> | undefined;

/** dist/templates/precompiled.js (made by `npm run build`), or null when there is none. */
function loadPrecompiled(): Promise<PrecompiledTemplates | null> {
  precompiled ??= import(pathToFileURL(path.join(packageRoot(), 'dist/templates/precompiled.js')).href).then(
    (m) => m as PrecompiledTemplates,
    () => null,
  );
  return precompiled;
}

/**
 * The template `name` with text `source`: the build's precompiled version when it was made from
 * exactly this text (then only the Handlebars runtime is loaded, which is what keeps `init` quick to
 * start), else compiled now with the full compiler. Same options either way (COMPILE_OPTIONS), so
 * the same output; templates/ stays the source of truth.
 */
export async function compileTemplate(source: string, name: string): Promise<TemplateFn> {
  const table = await loadPrecompiled();
  const entry = table?.templates[name];
  if (entry !== undefined && entry.sha256 === createHash('sha256').update(source).digest('hex')) {
    // handlebars/runtime ships an empty type declaration; its default export is the runtime
    // Handlebars namespace, whose `template` has the compiler's signature.
    const runtime = (await import('handlebars/runtime')) as unknown as { default: Pick<typeof Handlebars, 'template' | 'VERSION'> };
    // Made by another Handlebars (node_modules changed since the build): the runtime would refuse it.
    if (runtime.default.VERSION === table?.handlebarsVersion) return runtime.default.template(entry.spec);
  }
  const { default: compiler } = await import('handlebars');
  return compiler.compile(source, COMPILE_OPTIONS);
}
