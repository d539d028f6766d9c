/** Finds an element the page cannot work without. */
export function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

/** A span holding text (never markup). */
export function span(className: string, text = ''): HTMLSpanElement {
  const node = document.createElement('span');
  node.className = className;
  node.textContent = text;
  return node;
}

/** A coloured dot beside a name, for the eye only: the state is also written out. */
export function marker(className: string): HTMLSpanElement {
  const node = span(className);
  node.setAttribute('aria-hidden', 'true');
  return node;
}

/** Writes only what changed: live regions announce every write, and nothing else should move. */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setState(node: HTMLElement, text: string, state: string): void {
  setText(node, text);
  if (node.dataset.state !== state) node.dataset.state = state;
}
