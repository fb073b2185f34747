/** nginx's own commands, as data; run on the host or as a container's command (see docker-argv.ts). */

/** Check a config file, printing nothing unless nginx finds a problem (`-q`). */
export function nginxConfigTest(configFile: string): string[] {
  return ['nginx', '-t', '-q', '-c', configFile];
}
