/** graph.reachable and graph.reachable_paths over adjacency objects ({node: array|set of neighbours}). */
import type { BuiltinRegistry } from './registry.js';
import { typeError } from './registry.js';
import type { ObjectValue, Value } from '../value.js';
import { SetValue, isArray, isSet } from '../value.js';

function vertices(v: Value | undefined): readonly Value[] {
  if (v !== undefined && isArray(v)) return v;
  if (v !== undefined && isSet(v)) return v.values();
  return [];
}

function initialNodes(v: Value): readonly Value[] {
  if (!isArray(v) && !isSet(v)) throw typeError(2, v, ['array', 'set']);
  return vertices(v);
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'graph.reachable',
    args: ['object', 'any'],
    result: 'set',
    impl: (a) => {
      const graph = a[0] as ObjectValue;
      const queue = [...initialNodes(a[1]!)];
      const reached = new SetValue();
      for (let i = 0; i < queue.length; i++) {
        const node = queue[i]!;
        const edges = graph.get(node);
        if (edges === undefined || reached.has(node)) continue;
        reached.add(node);
        for (const n of vertices(edges)) if (!reached.has(n)) queue.push(n);
      }
      return reached;
    },
  });
  r.register({
    name: 'graph.reachable_paths',
    args: ['object', 'any'],
    result: 'set',
    impl: (a) => {
      const graph = a[0] as ObjectValue;
      const out = new SetValue();
      // Depth-first; a path ends at a leaf, at a node outside the graph (which is left out), or before a cycle.
      const walk = (node: Value, path: Value[], seen: SetValue): void => {
        const edges = graph.get(node);
        if (edges === undefined) {
          out.add(path);
          return;
        }
        const here = [...path, node];
        const next = vertices(edges);
        if (next.length === 0) {
          out.add(here);
          return;
        }
        // Like OPA, the visited set is shared by siblings: a node reached through an earlier branch ends a later
        // branch's path.
        seen.add(node);
        for (const n of next) {
          if (seen.has(n)) out.add(here);
          else walk(n, here, seen);
        }
      };
      for (const node of initialNodes(a[1]!)) {
        const edges = graph.get(node);
        if (edges === undefined) continue;
        const next = vertices(edges);
        if (next.length === 0) out.add([node]);
        for (const n of next) walk(n, [node], SetValue.of([node]));
      }
      return out;
    },
  });
}
