import { isMap, isSeq, type Node } from 'yaml';

/**
 * The deepest node of a YAML document that a path (a zod issue's, say) reaches: its range gives the line to name in
 * an error, even when the path ends at a key that is missing.
 */
export function nodeAt(root: unknown, path: readonly PropertyKey[]): Node | undefined {
  let node = root as Node | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown })?.value) === String(key));
      if (!pair) return node;
      node = (pair.value as Node | undefined) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key] as Node | undefined;
      if (!item) return node;
      node = item;
    } else return node;
  }
  return node;
}
