import path from 'node:path';
import type { Command } from 'commander';
import type { ExitCode } from '../errors.js';
import type { LoadedManifest } from '../manifest/load.js';
import { resolveActor } from './actor.js';
import { Output } from './output.js';

/** The global options every command accepts. */
export interface GlobalOptions {
  manifest: string;
  json: boolean;
  color: boolean;
  actor?: string;
}

/** What a command's action receives: resolved paths, output, and lazy access to the manifest and actor. */
export interface CliContext {
  global: GlobalOptions;
  /** Absolute path of the manifest. */
  manifestPath: string;
  /** The manifest's directory: generated files, history and state live under it. */
  projectDir: string;
  out: Output;
  actor(): string;
  loadManifest(): Promise<LoadedManifest>;
}

export function createContext(global: GlobalOptions): CliContext {
  const manifestPath = path.resolve(global.manifest);
  const projectDir = path.dirname(manifestPath);
  let actor: string | undefined;
  let loaded: Promise<LoadedManifest> | undefined;
  return {
    global,
    manifestPath,
    projectDir,
    out: new Output({ json: global.json, color: global.color }),
    actor: () => (actor ??= resolveActor(global.actor, projectDir)),
    loadManifest: () => {
      // Imported lazily: `--version` and `--help` should not pay for zod and yaml.
      loaded ??= import('../manifest/load.js').then((m) => m.loadManifest(manifestPath));
      return loaded;
    },
  };
}

/**
 * Wraps a command body: builds the context from the global options, passes the command's own
 * options and positional arguments, and turns a returned exit code into process.exitCode.
 */
export function action<O extends object, A extends unknown[] = []>(
  body: (ctx: CliContext, opts: O, ...args: A) => Promise<ExitCode | void>,
): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command;
    const positional = raw.slice(0, -2) as A;
    const ctx = createContext(command.optsWithGlobals<GlobalOptions>());
    const code = await body(ctx, command.opts<O>(), ...positional);
    if (code !== undefined && code !== 0) process.exitCode = code;
  };
}
