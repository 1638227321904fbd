import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Debian's kubectl with a kubeconfig whose only server is a closed port: a command that tried to
 * reach a cluster would fail, not leave the machine. Use `--local` commands, which parse and
 * decode manifests offline.
 */
export function kubectl(args: string[], stdin: string, dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const kc = join(dir, 'kubeconfig');
  writeFileSync(
    kc,
    'apiVersion: v1\nkind: Config\nclusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]\ncontexts: [{name: none, context: {cluster: none}}]\ncurrent-context: none\n',
  );
  return new Promise((resolve) => {
    const p = execFile('kubectl', args, { env: { PATH: process.env.PATH ?? '', KUBECONFIG: kc, HOME: dir }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    p.stdin!.end(stdin);
  });
}
