import { marker, span } from './dom.js';
import { clock, ms } from './format.js';
import type { TargetState, UpstreamGroupView } from './upstreams.js';

/** The colour each target state takes (the page's status colours). */
const STATE_COLOUR: Record<TargetState, string> = {
  up: 'online',
  out: 'offline',
  draining: 'degraded',
  failing: 'offline',
  unknown: 'unknown',
};

/** Draws the upstream groups into `list` (text only); `empty` says why there are none. */
export function renderUpstreams(list: HTMLElement, groups: readonly UpstreamGroupView[], empty: string): void {
  if (groups.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty muted';
    li.textContent = empty;
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(
    ...groups.map((group) => {
      const li = document.createElement('li');
      li.className = 'group';
      li.dataset.group = group.key;
      const heading = document.createElement('h3');
      heading.append(`${group.title} `, span('muted', group.span));
      const targets = document.createElement('ul');
      targets.className = 'targets';
      for (const target of group.targets) {
        const item = document.createElement('li');
        item.className = 'target';
        item.dataset.targetState = target.state;
        item.dataset.target = target.name;
        const state = span('state', target.state);
        state.dataset.state = STATE_COLOUR[target.state];
        const parts = [
          `in flight ${target.inFlight ?? '–'}`,
          `${target.requests} req`,
          `${target.errors} errors`,
          `p95 ${ms(target.p95Ms)}`,
        ];
        const changed = target.lastChange ? new Date(target.lastChange) : undefined;
        if (changed && Number.isFinite(changed.getTime())) parts.push(`changed ${clock(changed)}`);
        item.append(marker('marker'), span('name', target.name), state, span('figures', parts.join(' · ')));
        if (target.lastError) item.append(span('last-error', `last error: ${target.lastError}`));
        targets.append(item);
      }
      li.append(heading, targets);
      return li;
    }),
  );
}
