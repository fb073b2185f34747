/** The opa binary's commands, as data; the binary is the one findOpaBinary() found (opa-binary.ts). */

/** Run the policies' Rego unit tests, naming each (`opa test -v <dir>`): exit 0 only when all pass. */
export function opaTest(binary: string, policiesDir: string): string[] {
  return [binary, 'test', '-v', policiesDir];
}
