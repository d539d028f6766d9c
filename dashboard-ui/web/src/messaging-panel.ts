import { setState, setText } from './dom.js';
import { type MessagingStatus, type MessagingView, outboxText } from './messaging.js';

export interface MessagingElements {
  type: HTMLElement;
  status: HTMLElement;
  buffered: HTMLElement;
  dropped: HTMLElement;
  outbox: HTMLElement;
  lastError: HTMLElement;
}

/** The colour each messaging status takes (the page's status colours). */
const STATUS_COLOUR: Record<MessagingStatus, string> = {
  healthy: 'online',
  failing: 'offline',
  off: 'unknown',
  unknown: 'unknown',
};

/**
 * Writes the gateway's messaging figures (text only, each line of a fixed size): type, status,
 * events buffered and dropped (dropped above 0 marked), and the outboxes holding events.
 */
export function renderMessaging(el: MessagingElements, view: MessagingView | undefined): void {
  const reported = view !== undefined && view.status !== 'unknown';
  setText(el.type, reported ? (view.type ?? '–') : '–');
  setState(el.status, reported ? view.status : 'not reported', STATUS_COLOUR[view?.status ?? 'unknown']);
  setText(el.buffered, reported ? String(view.buffered) : '–');
  setText(el.dropped, reported ? String(view.dropped) : '–');
  const dropped = reported && view.dropped > 0;
  if (el.dropped.dataset.alert !== String(dropped)) el.dropped.dataset.alert = String(dropped);
  const outbox = view ? outboxText(view.outboxes) : '–';
  setText(el.outbox, outbox);
  el.outbox.title = outbox;
  if (el.outbox.dataset.pending !== String((view?.outboxes.length ?? 0) > 0)) {
    el.outbox.dataset.pending = String((view?.outboxes.length ?? 0) > 0);
  }
  const error = (reported && view.lastError) || '–';
  setText(el.lastError, error);
  el.lastError.title = error;
}
