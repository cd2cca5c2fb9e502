import type { Document, LineCounter, Node } from 'yaml';
import { isAlias, isCollection, isPair, newLineCounter, parseDocument } from './yaml-lib.js';

/**
 * Parsing YAML that a user wrote (transforms files, connector configs). Aliases let a few hundred
 * bytes stand for billions of nodes (the "billion laughs"), and a walk over such a document never
 * ends; so the nodes that aliases add and the nesting depth are limited, before anyone walks it.
 */

/** Nodes that aliases may add to a document, in all (a normal config uses none or a few). */
export const MAX_ALIAS_NODES = 10_000;
/** How deeply collections may nest. */
export const MAX_YAML_DEPTH = 64;

/** YAML that cannot be used: `problem` says why, `line` (1-based) where when known. */
export class UserYamlProblem {
  constructor(
    readonly problem: string,
    readonly line: number | undefined,
    readonly cause?: unknown,
  ) {}
}

/**
 * Parses `text` as YAML 1.2 (core schema, unique keys, no merge keys). Returns the document, or
 * the first problem: a syntax error, or aliases or nesting beyond the limits.
 */
export function parseUserYaml(text: string, lineCounter = newLineCounter()): Document | UserYamlProblem {
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    merge: false,
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter,
  });
  const first = doc.errors[0];
  if (first)
    return new UserYamlProblem(
      `invalid YAML: ${first.message.split('\n')[0]}`,
      lineCounter.linePos(first.pos[0]).line,
      first,
    );
  const size = expandedSize(doc as Document);
  if (size.tooDeep)
    return new UserYamlProblem(
      `collections nested more than ${MAX_YAML_DEPTH} deep`,
      lineOf(lineCounter, size.tooDeep),
    );
  if (size.expanded - size.literal > MAX_ALIAS_NODES) {
    return new UserYamlProblem(
      `aliases (*name) expand the document by more than ${MAX_ALIAS_NODES} nodes; write the values out, or use fewer aliases`,
      undefined,
    );
  }
  return doc as Document;
}

/** The document as plain JS values; aliases are limited again, as the yaml library counts them. */
export function userYamlToJs(doc: Document): unknown | UserYamlProblem {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof ReferenceError)
      return new UserYamlProblem(`too many aliases (*name): ${err.message}`, undefined, err);
    throw err;
  }
}

function lineOf(lines: LineCounter, node: Node): number | undefined {
  return node.range ? lines.linePos(node.range[0]).line : undefined;
}

/**
 * Nodes of the document as written (`literal`, an alias counts 1) and as a walk that follows
 * aliases sees them (`expanded`). Linear: an alias points back to an anchor earlier in the
 * document, whose size is known by then.
 */
function expandedSize(doc: Document): { literal: number; expanded: number; tooDeep: Node | null } {
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let literal = 0;
  let tooDeep: Node | null = null;
  const walk = (node: Node | null | undefined, depth: number): number => {
    if (!node) return 0;
    literal++;
    if (isAlias(node)) {
      const target = node.resolve(doc) as Node | undefined;
      // A recursive alias (inside its own anchor) adds nothing here; whoever walks the document reports it.
      return target && !open.has(target) ? (sizes.get(target) ?? 1) : 1;
    }
    let n = 1;
    if (isCollection(node)) {
      if (depth >= MAX_YAML_DEPTH) {
        tooDeep ??= node;
        return n;
      }
      open.add(node);
      for (const item of node.items) {
        n += isPair(item)
          ? walk(item.key as Node | null, depth + 1) + walk(item.value as Node | null, depth + 1)
          : walk(item as Node | null, depth + 1);
      }
      open.delete(node);
    }
    sizes.set(node, n);
    return n;
  };
  const expanded = walk(doc.contents as Node | null, 0);
  return { literal, expanded, tooDeep };
}
