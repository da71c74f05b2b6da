/** The contract's pagination: the page a request asks for, the order it wants, and the envelope every list answers with. */
export interface PageRequest {
  pageNumber: number;
  pageSize: number;
  sortDirection: 'ASC' | 'DESC';
  sortBy: 'createdAt' | 'updatedAt';
}

export interface Page<T> {
  pageNumber: number;
  pageSize: number;
  numberOfElements: number;
  totalPages: number;
  totalElements: number;
  items: T[];
}

/** The tri-state filters of the contract (`clipMode`, `successfulMode`, `testMode`). */
export type TriState = 'INCLUDE' | 'EXCLUDE' | 'ONLY';

/** The same page with each item mapped, e.g. rows to wire objects. */
export function mapPage<T, U>(page: Page<T>, map: (item: T) => U): Page<U> {
  return { ...page, items: page.items.map(map) };
}
