/**
 * The signed-in session: the API key, the typed client sending it, and sign-in/sign-out. Sign-in
 * checks the key with GET /api/v1/account before keeping it; sign-out forgets it and every cached
 * answer, so the next person at the screen sees nothing of the last one's.
 */
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { call, createApiClient, type Account, type ApiClient } from '../api/client';
import { forgetApiKey, readStoredApiKey, storeApiKey } from './session-storage';

export interface Session {
  apiKey: string | null;
  client: ApiClient | null;
  /** Checks the key against the service; keeps it when valid, else throws the ApiError. */
  signIn(apiKey: string): Promise<Account>;
  signOut(): void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [apiKey, setApiKey] = useState<string | null>(readStoredApiKey);
  const client = useMemo(() => (apiKey === null ? null : createApiClient(apiKey)), [apiKey]);

  const signIn = useCallback(
    async (candidate: string) => {
      const account = await call(createApiClient(candidate).GET('/api/v1/account'));
      storeApiKey(candidate);
      queryClient.clear();
      setApiKey(candidate);
      return account;
    },
    [queryClient],
  );

  const signOut = useCallback(() => {
    forgetApiKey();
    queryClient.clear();
    setApiKey(null);
  }, [queryClient]);

  const session = useMemo(() => ({ apiKey, client, signIn, signOut }), [apiKey, client, signIn, signOut]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession needs a SessionProvider');
  return session;
}

/** The client of a signed-in session; pages behind RequireSession only. */
export function useApi(): ApiClient {
  const { client } = useSession();
  if (client === null) throw new Error('useApi needs a signed-in session');
  return client;
}
