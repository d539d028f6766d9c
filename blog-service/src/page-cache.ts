/** At most this many pages are kept; when full, the cache starts again empty. */
const MAX_PAGES = 256;

export interface CachedPage {
  total: number;
  /** The page as its JSON answer. */
  json: string;
}

/**
 * Serialized list pages, valid for one version of the database: reading 20 rows, building their
 * excerpts and serializing them costs far more than checking that nothing changed since.
 */
export class PageCache {
  #version = '';
  readonly #pages = new Map<string, CachedPage>();

  /** The page for `key` at `version`, computed by `build` when missing or older. */
  get(version: string, key: string, build: () => CachedPage): CachedPage {
    if (version !== this.#version) {
      this.#pages.clear();
      this.#version = version;
    }
    let page = this.#pages.get(key);
    if (!page) {
      page = build();
      if (this.#pages.size >= MAX_PAGES) this.#pages.clear();
      this.#pages.set(key, page);
    }
    return page;
  }
}
