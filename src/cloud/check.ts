/**
 * Checking what a cloud actually holds against what a Deployment needs: the user exports the
 * configuration with the cloud's own CLI (`aws iam get-role`, `az identity federated-credential
 * list`, `gcloud iam workload-identity-pools providers describe`), and Airlock evaluates it as the
 * cloud would for every component's token — offline, before a task finds out at run time. Beside "is each component trusted?" it asks the question a
 * reviewer asks: "is anyone else trusted too?", by evaluating tokens the Deployment must not be
 * able to stand in for (another namespace on the same issuer, another issuer, another audience,
 * another Deployment's identity in the same GCP pool).
 *
 * Pure functions of the setup and the documents: no store, no clock, no network.
 */
import type { Cloud } from '../domain/terms.ts';
import { AppError } from '../errors/index.ts';
import { checkAwsTrust } from './aws/check.ts';
import { checkAzureTrust } from './azure/check.ts';
import { checkGcpTrust } from './gcp/check.ts';
import type { SetupInput, SetupResult, TrustDocuments, TrustCheckResult } from './types.ts';

export type { TrustCheck, TrustCheckResult, TrustDocuments, TrustFinding } from './types.ts';

/** The documents each cloud's check reads (the first is required), for error messages. */
const DOCUMENTS_OF: Record<Cloud, { fields: (keyof TrustDocuments)[]; example: string }> = {
  aws: { fields: ['trustPolicy', 'platformTrustPolicy'], example: 'aws iam get-role --role-name etl-reader --output json' },
  azure: { fields: ['federatedCredentials'], example: 'az identity federated-credential list --identity-name etl --resource-group data -o json' },
  gcp: {
    fields: ['provider', 'serviceAccountPolicy', 'targetPolicy'],
    example: 'gcloud iam workload-identity-pools providers describe ns-etl-7f3k2q9x --workload-identity-pool=airlock-prod-gcp --location=global --format=json',
  },
};

/**
 * Evaluates `docs` for the Deployment `input` describes (`setup` is its generated setup). Throws
 * `AppError('ERR_VALIDATION')` naming the field when the document is missing, is another cloud's,
 * or is not what the cloud's CLI prints.
 */
export function checkTrust(input: SetupInput, setup: SetupResult, docs: TrustDocuments): TrustCheckResult {
  const cloud = input.identity.identity.cloud;
  const mine = DOCUMENTS_OF[cloud];
  for (const [other, d] of Object.entries(DOCUMENTS_OF) as [Cloud, (typeof DOCUMENTS_OF)[Cloud]][]) {
    const stray = other === cloud ? undefined : d.fields.find((f) => docs[f] !== undefined);
    if (stray) {
      throw new AppError('ERR_VALIDATION', `Deployment ${input.deployment.name}'s identity is in ${cloud}: ${stray} is ${other}'s document`, { field: stray, example: mine.example });
    }
  }
  const field = mine.fields[0]!;
  if (docs[field] === undefined) {
    throw new AppError('ERR_VALIDATION', `${field} is required: Deployment ${input.deployment.name}'s identity is in ${cloud}`, { field, example: mine.example });
  }
  const r =
    cloud === 'aws'
      ? checkAwsTrust(input, setup, docs.trustPolicy, docs.platformTrustPolicy)
      : cloud === 'azure'
        ? checkAzureTrust(input, setup, docs.federatedCredentials)
        : checkGcpTrust(input, setup, { provider: docs.provider, serviceAccountPolicy: docs.serviceAccountPolicy, targetPolicy: docs.targetPolicy });
  return { cloud, mode: setup.mode, ...r, ok: r.checks.every((c) => c.trusted) && !r.findings.some((f) => f.severity === 'error') };
}
