/** Background client traffic for command-sequence tests: a loop of `GET <base>/` per base URL, every 50 ms, while `fn` runs. */
export async function whileRequesting<T>(bases: readonly string[], fn: () => Promise<T>): Promise<T> {
  let on = true;
  const traffic = Promise.all(
    bases.map(async (base) => {
      while (on) {
        await fetch(`${base}/`).then((r) => r.arrayBuffer()).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  try {
    return await fn();
  } finally {
    on = false;
    await traffic;
  }
}
