/**
 * Coalesces lookups made in the same turn of the event loop into one call: under load, a hundred
 * concurrent token exchanges cost one store query instead of a hundred. Each caller still gets
 * its own answer (or its own `undefined`), and a failed batch fails every caller in it.
 */
type Waiter<V> = { resolve: (v: V | undefined) => void; reject: (e: unknown) => void };

export function createBatcher<K, V>(loadMany: (keys: K[]) => Promise<Map<K, V>>, maxBatch = 500): (key: K) => Promise<V | undefined> {
  let open: Map<K, Waiter<V>[]> | undefined;

  const run = (batch: Map<K, Waiter<V>[]>) => {
    if (open === batch) open = undefined;
    loadMany([...batch.keys()]).then(
      (found) => {
        for (const [k, waiters] of batch) for (const w of waiters) w.resolve(found.get(k));
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  };

  return (key) =>
    new Promise<V | undefined>((resolve, reject) => {
      let batch = open;
      if (!batch) {
        const fresh = new Map<K, Waiter<V>[]>();
        batch = open = fresh;
        setImmediate(() => {
          if (open === fresh) run(fresh);
        });
      }
      const waiters = batch.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else batch.set(key, [{ resolve, reject }]);
      if (batch.size >= maxBatch) run(batch);
    });
}
