/** The contract's pagination: requests and the page envelope every list answers with. */
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
