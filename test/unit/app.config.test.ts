import { describe, expect, it } from 'vitest';
import { AppConfigError, DEFAULT_DRAIN_TIMEOUT_SECONDS, DEFAULT_PORT, readAppConfig } from '../../src/app/config.js';

describe('readAppConfig', () => {
  it('defaults to stable on port 3000, all interfaces, chaos off', () => {
    expect(readAppConfig({})).toEqual({
      port: DEFAULT_PORT,
      host: '0.0.0.0',
      mode: 'stable',
      track: 'stable',
      version: 'unknown',
      chaosToken: undefined,
      drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_SECONDS * 1000,
    });
  });

  it('reads every variable the compose file sets', () => {
    const token = 'a'.repeat(64);
    expect(
      readAppConfig({ PORT: '8081', MODE: 'canary', TRACK: 'canary', APP_VERSION: '1.4.0-rc.1', CHAOS_TOKEN: token, DRAIN_TIMEOUT_SECONDS: '2.5', HOST: '127.0.0.1' }),
    ).toEqual({ port: 8081, host: '127.0.0.1', mode: 'canary', track: 'canary', version: '1.4.0-rc.1', chaosToken: token, drainTimeoutMs: 2500 });
  });

  it('treats an empty CHAOS_TOKEN as "chaos off"', () => {
    expect(readAppConfig({ CHAOS_TOKEN: '' }).chaosToken).toBeUndefined();
  });

  it('accepts PORT=0 (ephemeral) and 65535', () => {
    expect(readAppConfig({ PORT: '0' }).port).toBe(0);
    expect(readAppConfig({ PORT: '65535' }).port).toBe(65535);
  });

  it.each([
    [{ PORT: '65536' }, /^PORT: /],
    [{ PORT: '-1' }, /^PORT: /],
    [{ PORT: '80.5' }, /^PORT: /],
    [{ PORT: '0x50' }, /^PORT: /],
    [{ MODE: 'Canary' }, /^MODE: /],
    [{ MODE: 'blue' }, /^MODE: /],
    [{ TRACK: 'Canary' }, /^TRACK: expected "stable" or "canary", got "Canary"$/],
    [{ TRACK: 'blue' }, /^TRACK: /],
    [{ APP_VERSION: 'x'.repeat(129) }, /^APP_VERSION: /],
    [{ APP_VERSION: 'has space' }, /^APP_VERSION: /],
    [{ CHAOS_TOKEN: 'fifteen-chars-x' }, /^CHAOS_TOKEN: .*got 15 characters/],
    [{ CHAOS_TOKEN: 'sixteen chars xy' }, /^CHAOS_TOKEN: /],
    [{ DRAIN_TIMEOUT_SECONDS: '0' }, /^DRAIN_TIMEOUT_SECONDS: /],
    [{ DRAIN_TIMEOUT_SECONDS: 'Infinity' }, /^DRAIN_TIMEOUT_SECONDS: /],
    [{ DRAIN_TIMEOUT_SECONDS: '301' }, /^DRAIN_TIMEOUT_SECONDS: /],
  ])('rejects %o naming the variable', (env, message) => {
    expect(() => readAppConfig(env)).toThrow(AppConfigError);
    expect(() => readAppConfig(env)).toThrow(message);
  });

  it('never echoes a rejected chaos token', () => {
    expect(() => readAppConfig({ CHAOS_TOKEN: 'hunter2' })).toThrow(/^(?!.*hunter2)/);
  });
});
