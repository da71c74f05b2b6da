/** Pages in SQL: the order and offset a page request asks for, and the envelope around the rows it got. */
import { asc, desc, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Page, PageRequest } from '../domain/paging.js';

export type { Page, PageRequest, TriState } from '../domain/paging.js';

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
