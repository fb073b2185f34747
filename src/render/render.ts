import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { Manifest } from '../manifest/schema.js';
import { packageRoot } from '../util/package-root.js';
import { templateContext, type RenderEnvironment } from './context.js';
import { withHeader } from './header.js';

/** A generated file: where it goes (relative to the project dir) and its complete bytes. */
export interface RenderedFile {
  relPath: string;
  template: string;
  content: string;
}

export const GENERATED = [
  { relPath: 'nginx/nginx.conf', template: 'nginx.conf.hbs' },
  { relPath: 'docker-compose.yml', template: 'docker-compose.yml.hbs' },
] as const;

export function templatesDir(): string {
  return path.join(packageRoot(), 'templates');
}

/** The project's own policies/ when it has one, else the policies shipped with swiftdeploy. */
export function policiesDirFor(projectDir: string): string {
  return existsSync(path.join(projectDir, 'policies')) ? './policies' : path.join(packageRoot(), 'policies');
}

/**
 * Renders every generated file. Pure in its inputs (manifest, environment, template text): no
 * clock, no randomness, so the same manifest gives byte-identical output.
 */
export async function renderAll(manifest: Manifest, env: RenderEnvironment, dir = templatesDir()): Promise<RenderedFile[]> {
  const context = templateContext(manifest, env);
  return Promise.all(
    GENERATED.map(async ({ relPath, template }) => {
      const source = await readFile(path.join(dir, template), 'utf8');
      return { relPath, template, content: withHeader(renderTemplate(source, context, template)) };
    }),
  );
}

/** Strict (a missing variable throws) and unescaped (this is config, not HTML; values are pre-validated). */
export function renderTemplate(source: string, context: object, name = 'template'): string {
  try {
    return Handlebars.compile(source, { strict: true, noEscape: true })(context);
  } catch (err) {
    throw new Error(`templates/${name}: ${(err as Error).message}`, { cause: err });
  }
}
