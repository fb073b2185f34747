/** The runtime's public surface: what to run (pure builders), running it, and reading the answers. */
export * from './flavour.js';
export * from './project-name.js';
export * from './compose-argv.js';
export * from './docker-argv.js';
export * from './ps.js';
export * from './run.js';
export * from './detect.js';
export * from './health.js';
export * from './chaos-token.js';
