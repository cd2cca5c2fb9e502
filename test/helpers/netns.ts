import { execFile, execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** scripts/netns-hosts.sh of this checkout (tests run from dist/test/helpers/). */
export const netnsScript = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'),
  'scripts',
  'netns-hosts.sh',
);

/** Why network namespaces cannot be made here, or null when they can (root and `ip` are needed). */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)';
  try {
    execFileSync('sh', ['-c', 'command -v ip && command -v tc'], { stdio: 'ignore' });
  } catch {
    return 'the ip and tc commands are missing (Debian: apt-get install iproute2)';
  }
  return null;
}

const script = (args: string[]) =>
  new Promise<string>((res, rej) => {
    execFile('bash', [netnsScript, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`netns-hosts.sh ${args.join(' ')} failed: ${stderr || err.message}`));
      else res(stdout);
    });
  });

export interface NetnsHosts {
  id: string;
  /** The root namespace's address on the hosts' bridge (where a broker for them listens). */
  bridge: string;
  /** Host i's address (0-based here; the script's host numbers are 1-based). */
  addresses: string[];
  /** A command prefix that runs a command in host i. */
  exec(i: number): string[];
  cut(i: number): Promise<void>;
  slow(i: number, rate: string): Promise<void>;
  heal(i: number): Promise<void>;
  down(): Promise<void>;
}

/** `n` separate hosts (network namespaces on a bridge) made by scripts/netns-hosts.sh. */
export async function netnsHosts(n: number): Promise<NetnsHosts> {
  const lines = (await script(['up', String(n)])).trim().split('\n');
  const [id, bridge] = lines[0]!.split(' ') as [string, string];
  const host = (i: number) => String(i + 1);
  return {
    id,
    bridge,
    addresses: lines.slice(1).map((l) => l.split(' ')[1]!),
    exec: (i) => ['bash', netnsScript, 'exec', id, host(i)],
    cut: async (i) => void (await script(['cut', id, host(i)])),
    slow: async (i, rate) => void (await script(['slow', id, host(i), rate])),
    heal: async (i) => void (await script(['heal', id, host(i)])),
    down: async () => void (await script(['down', id])),
  };
}
