import type { Binding, Destination, ExchangeRouter, RoutingInput } from "./binding.js";

interface TrieNode {
  readonly words: Map<string, TrieNode>;
  star?: TrieNode;
  hash?: TrieNode;
  bindings: Binding[];
}

const newNode = (): TrieNode => ({ words: new Map(), bindings: [] });

/**
 * topic: binding keys are dot-separated words where `*` matches exactly one word
 * and `#` matches zero or more. The bindings form a trie over words, so routing
 * cost grows with the key's length, not with the number of bindings. A property
 * test checks it against a regular-expression model.
 */
export class TopicExchange implements ExchangeRouter {
  private readonly root = newNode();

  add(binding: Binding): void {
    let node = this.root;
    for (const word of words(binding.routingKey)) {
      if (word === "*") node = node.star ??= newNode();
      else if (word === "#") node = node.hash ??= newNode();
      else {
        let next = node.words.get(word);
        if (!next) {
          next = newNode();
          node.words.set(word, next);
        }
        node = next;
      }
    }
    node.bindings.push(binding);
  }

  remove(binding: Binding): void {
    this.removeFrom(this.root, words(binding.routingKey), 0, binding);
  }

  route(input: RoutingInput, out: Set<Destination>): void {
    this.match(this.root, words(input.routingKey), 0, out);
  }

  private match(node: TrieNode, words: string[], i: number, out: Set<Destination>): void {
    if (node.hash) {
      // `#` may swallow any number of words, including none.
      for (let j = i; j <= words.length; j++) this.match(node.hash, words, j, out);
    }
    if (i === words.length) {
      for (const b of node.bindings) out.add(b.destination);
      return;
    }
    const next = node.words.get(words[i]!);
    if (next) this.match(next, words, i + 1, out);
    if (node.star) this.match(node.star, words, i + 1, out);
  }

  /** Removes the binding and prunes nodes left empty; returns whether this node is now empty. */
  private removeFrom(node: TrieNode, words: string[], i: number, binding: Binding): boolean {
    if (i === words.length) {
      const at = node.bindings.indexOf(binding);
      if (at >= 0) node.bindings.splice(at, 1);
    } else {
      const word = words[i]!;
      const child = word === "*" ? node.star : word === "#" ? node.hash : node.words.get(word);
      if (child && this.removeFrom(child, words, i + 1, binding)) {
        if (word === "*") node.star = undefined;
        else if (word === "#") node.hash = undefined;
        else node.words.delete(word);
      }
    }
    return node.bindings.length === 0 && node.words.size === 0 && !node.star && !node.hash;
  }
}

/** A key's words: "" is zero words (so `*` does not match it), "." is two empty words. */
function words(key: string): string[] {
  return key === "" ? [] : key.split(".");
}
