/** The contract's pagination: requests, the order they ask for, and the page envelope every list answers with. */
import { asc, desc, type AnyColumn, type SQL } from 'drizzle-orm';
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

/** ORDER BY for a page: the requested timestamp in the requested direction, then the id to break ties. */
export function pageOrder(
  request: PageRequest,
  columns: { createdAt: AnyColumn; updatedAt: AnyColumn; id: AnyColumn },
): SQL[] {
  const sortColumn = request.sortBy === 'updatedAt' ? columns.updatedAt : columns.createdAt;
  return request.sortDirection === 'DESC' ? [desc(sortColumn), desc(columns.id)] : [asc(sortColumn), asc(columns.id)];
}

export function pageOffset(request: PageRequest): number {
  return request.pageNumber * request.pageSize;
}

export function toPage<T>(request: PageRequest, items: T[], totalElements: number): Page<T> {
  return {
    pageNumber: request.pageNumber,
    pageSize: request.pageSize,
    numberOfElements: items.length,
    totalPages: Math.ceil(totalElements / request.pageSize),
    totalElements,
    items,
  };
}

export function mapPage<T, U>(page: Page<T>, map: (item: T) => U): Page<U> {
  return { ...page, items: page.items.map(map) };
}
