import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { CliError, createClient, type OutputFlags } from '../client.ts';
import { parseFormat, print, type Column } from '../output.ts';

interface ClusterJson {
  id: string;
  name: string;
  cloud: string;
  type: string;
  region: string;
  issuerMode: string;
  oidcIssuerUrl: string;
  createdAt: string;
}

const columns: Column<ClusterJson>[] = [
  { header: 'NAME', get: (c) => c.name },
  { header: 'ID', get: (c) => c.id },
  { header: 'CLOUD', get: (c) => c.cloud },
  { header: 'TYPE', get: (c) => c.type },
  { header: 'REGION', get: (c) => c.region },
  { header: 'OIDC ISSUER', get: (c) => c.oidcIssuerUrl },
];

const enc = encodeURIComponent;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The Kubernetes-issuer flags as body fields; "none" removes a value. */
/** The flags of `cluster create` and `cluster update` (create requires the first four). */
interface ClusterFlags extends OutputFlags {
  name?: string;
  cloud?: string;
  type?: string;
  region?: string;
  issuerMode?: string;
  defaultIdentityAccount?: string;
  defaultIdentityProject?: string;
  defaultIdentityProjectNumber?: string;
  kubernetesIssuerUrl?: string;
  kubernetesCaCert?: string;
  audience?: string[];
}

function kubernetesFields(o: { kubernetesIssuerUrl?: string; kubernetesCaCert?: string; audience?: string[] }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.kubernetesIssuerUrl !== undefined) body.kubernetesIssuerUrl = o.kubernetesIssuerUrl === 'none' ? null : o.kubernetesIssuerUrl;
  if (o.kubernetesCaCert !== undefined) {
    if (o.kubernetesCaCert === 'none') body.kubernetesCaCert = null;
    else {
      try {
        body.kubernetesCaCert = readFileSync(o.kubernetesCaCert, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read --kubernetes-ca-cert ${o.kubernetesCaCert}: ${(err as Error).message}`, 'ERR_VALIDATION', '--kubernetes-ca-cert', 'ca.pem', 2);
      }
    }
  }
  if (o.audience !== undefined && (o.audience.length > 0 || body.audiences !== undefined)) body.audiences = o.audience.filter((a) => a !== 'none');
  return body;
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('Manage clusters and their OIDC issuers');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');

  out(
    cluster
      .command('create')
      .description('Create a cluster; Airlock becomes its OIDC issuer')
      .requiredOption('--name <name>', 'DNS-1123 label, e.g. prod-aws')
      .requiredOption('--cloud <cloud>', 'aws | gcp | azure')
      .option('--type <type>', 'standard | dedicated', 'standard')
      .requiredOption('--region <region>', 'cloud region, e.g. us-east-1')
      .option('--default-identity-account <id>', 'AWS: account holding the Deployments\' default identity roles')
      .option('--default-identity-project <id>', 'GCP: project holding the Deployments\' default identity service accounts')
      .option('--default-identity-project-number <number>', 'GCP: that project\'s number (used in the federation audience)')
      .option('--issuer-mode <mode>', 'airlock (Airlock signs workload tokens) | kubernetes (the cluster\'s own issuer, e.g. EKS)', 'airlock')
      .option('--kubernetes-issuer-url <url>', "the cluster's own service-account issuer: verifies pod tokens; in kubernetes mode the issuer clouds trust")
      .option('--kubernetes-ca-cert <file>', 'PEM CA of that issuer, when it is not publicly trusted')
      .option('--audience <aud>', 'a custom audience workloads may ask tokens for (repeatable)', collect, []),
  ).action(async (o: ClusterFlags) => {
    const body: Record<string, unknown> = { name: o.name, cloud: o.cloud, type: o.type, region: o.region, issuerMode: o.issuerMode };
    Object.assign(body, kubernetesFields(o));
    if (o.defaultIdentityAccount !== undefined) body.defaultIdentityAccount = o.defaultIdentityAccount;
    if (o.defaultIdentityProject !== undefined) body.defaultIdentityProject = o.defaultIdentityProject;
    if (o.defaultIdentityProjectNumber !== undefined) body.defaultIdentityProjectNumber = o.defaultIdentityProjectNumber;
    const c = await createClient().request<ClusterJson>('POST', '/api/v1/clusters', body);
    print(parseFormat(o.output), c, columns);
  });

  out(cluster.command('list').description('List clusters')).action(async (o: OutputFlags) => {
    const client = createClient();
    const items: ClusterJson[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.request<{ items: ClusterJson[]; nextCursor?: string }>('GET', `/api/v1/clusters?limit=100${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    print(parseFormat(o.output), items, columns);
  });

  out(cluster.command('get').argument('<cluster>', 'id or name').description('Show one cluster')).action(async (ref: string, o: OutputFlags) => {
    print(parseFormat(o.output), await createClient().request<ClusterJson>('GET', `/api/v1/clusters/${enc(ref)}`), columns);
  });

  out(
    cluster
      .command('update')
      .argument('<cluster>', 'id or name')
      .option('--region <region>', 'new region')
      .option('--default-identity-account <id>', 'AWS account of the default identities ("none" removes it)')
      .option('--default-identity-project <id>', 'GCP project of the default identities ("none" removes it)')
      .option('--default-identity-project-number <number>', 'that project\'s number ("none" removes it)')
      .option('--kubernetes-issuer-url <url>', 'the cluster\'s own service-account issuer ("none" removes it)')
      .option('--kubernetes-ca-cert <file>', 'PEM CA of that issuer ("none" removes it)')
      .option('--audience <aud>', 'custom audiences (repeatable; replaces the list; "none" clears it)', collect, undefined)
      .description('Update a cluster'),
  ).action(
    async (ref: string, o: ClusterFlags) => {
      const body: Record<string, unknown> = {};
      if (o.region !== undefined) body.region = o.region;
      for (const k of ['defaultIdentityAccount', 'defaultIdentityProject', 'defaultIdentityProjectNumber'] as const) {
        if (o[k] !== undefined) body[k] = o[k] === 'none' ? null : o[k];
      }
      Object.assign(body, kubernetesFields(o));
      print(parseFormat(o.output), await createClient().request<ClusterJson>('PATCH', `/api/v1/clusters/${enc(ref)}`, body), columns);
    },
  );

  cluster
    .command('delete')
    .argument('<cluster>', 'id or name')
    .description('Delete a cluster and its signing keys')
    .action(async (ref: string) => {
      await createClient().request('DELETE', `/api/v1/clusters/${enc(ref)}`);
      process.stdout.write(`cluster ${ref} deleted\n`);
    });

  out(
    cluster
      .command('rotate-keys')
      .argument('<cluster>', 'id or name')
      .description('Publish a new signing key now; it signs after the prepublication lead (default 24h)')
      .option('--immediate', 'sign with the new key now (relying parties with a cached JWKS reject tokens until they refetch)')
      .option('--revoke-previous', 'with --immediate: withdraw the old key at once, invalidating its tokens (key compromise)'),
  ).action(async (ref: string, o: OutputFlags & { immediate?: boolean; revokePrevious?: boolean }) => {
    const r = await createClient().request<{ kid: string; publishAt: string; activateAt: string; created: boolean }>(
      'POST',
      `/api/v1/clusters/${enc(ref)}/rotate-keys`,
      { immediate: Boolean(o.immediate), revokePrevious: Boolean(o.revokePrevious) },
    );
    print(parseFormat(o.output), r, [
      { header: 'KID', get: (x) => x.kid },
      { header: 'PUBLISHED', get: (x) => x.publishAt },
      { header: 'SIGNS FROM', get: (x) => x.activateAt },
      { header: 'NEW', get: (x) => (x.created ? 'yes' : 'no (already scheduled)') },
    ]);
  });

  out(cluster.command('keys').argument('<cluster>', 'id or name').description('Show the issuer keys and their lifecycle')).action(async (ref: string, o: OutputFlags) => {
    const r = await createClient().request<{ items: Record<string, string>[] }>('GET', `/api/v1/clusters/${enc(ref)}/keys`);
    print(parseFormat(o.output), r.items, [
      { header: 'KID', get: (k) => k.kid },
      { header: 'STATE', get: (k) => k.state },
      { header: 'PUBLISHED', get: (k) => k.publishAt },
      { header: 'SIGNS FROM', get: (k) => k.activateAt },
      { header: 'LEAVES JWKS', get: (k) => k.removeAt },
    ]);
  });
}
