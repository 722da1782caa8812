// The signed-in user and the one API client of the page. The token lives in
// localStorage so a reload stays signed in; a token the server no longer
// accepts (logged out elsewhere, expired) is dropped on the first 401.
import { LiveroomClient, LiveroomError, type User } from '../../src/client/index.ts';

const STORE = 'liveroom.token';

/** In production the API is this page's origin; the Vite dev server points at VITE_API_URL. */
const baseUrl = import.meta.env.DEV ? ((import.meta.env.VITE_API_URL as string | undefined) ?? 'http://localhost:8080') : location.origin;

export const api = new LiveroomClient({ baseUrl, token: localStorage.getItem(STORE) ?? undefined });

let user: User | null = null;
const listeners = new Set<(u: User | null) => void>();

export const currentUser = () => user;

export function onUserChange(fn: (u: User | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setUser(u: User | null): void {
  user = u;
  for (const fn of listeners) fn(u);
}

/** Checks the stored token once at start-up. */
export async function restoreSession(): Promise<void> {
  if (!api.token) return;
  try {
    setUser((await api.me()).user);
  } catch (e) {
    if (e instanceof LiveroomError && e.status === 401) forget();
    // a network error keeps the token: the next view will try again
  }
}

export async function login(username: string, password: string): Promise<User> {
  const reply = await api.login(username, password);
  localStorage.setItem(STORE, reply.token);
  setUser(reply.user);
  return reply.user;
}

export async function register(username: string, password: string, nickname?: string): Promise<User> {
  await api.register({ username, password, ...(nickname ? { nickname } : {}) });
  return login(username, password);
}

export async function logout(): Promise<void> {
  try {
    await api.logout();
  } finally {
    forget();
  }
}

function forget(): void {
  api.token = undefined;
  localStorage.removeItem(STORE);
  setUser(null);
}

export function updateUser(u: User): void {
  setUser(u);
}
