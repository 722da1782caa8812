// One client's address for per-address limits: IPv4 as is (also when
// IPv4-mapped), IPv6 by its /64, what one host or home is given (counting
// single IPv6 addresses would give one client 2^64 shares).

export function addressGroup(remote: string): string {
  if (remote.startsWith('::ffff:') && remote.includes('.')) return remote.slice(7);
  if (!remote.includes(':')) return remote;
  const [head = '', tail] = remote.split('%')[0]!.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}
