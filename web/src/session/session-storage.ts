/**
 * Where the signed-in API key lives: the tab's sessionStorage, so it goes when the tab closes and is
 * never put in a URL or a cookie. Nothing here logs it.
 */
const storageKey = 'reelin.apiKey';

export function readStoredApiKey(): string | null {
  try {
    return window.sessionStorage.getItem(storageKey);
  } catch {
    return null;
  }
}

export function storeApiKey(apiKey: string): void {
  window.sessionStorage.setItem(storageKey, apiKey);
}

export function forgetApiKey(): void {
  window.sessionStorage.removeItem(storageKey);
}
