/**
 * Checking what a cloud actually holds against what a Deployment needs: the user exports the
 * configuration with the cloud's own CLI (`aws iam get-role`, `az identity federated-credential
 * list`), and Airlock evaluates it as the cloud would for every component's token — offline,
 * before a task finds out at run time. Beside "is each component trusted?" it asks the question a
 * reviewer asks: "is anyone else trusted too?", by evaluating tokens the Deployment must not be
 * able to stand in for (another namespace on the same issuer, another issuer, another audience).
 *
 * Pure functions of the setup and the documents: no store, no clock, no network.
 */
import type { Cloud } from '../domain/terms.ts';
import { AppError } from '../errors/index.ts';
import { checkAwsTrust } from './aws/check.ts';
import { checkAzureTrust } from './azure/check.ts';
import type { SetupInput, SetupResult, TrustDocuments, TrustCheckResult } from './types.ts';

export type { TrustCheck, TrustCheckResult, TrustDocuments, TrustFinding } from './types.ts';

/** The document each cloud's check reads, for error messages. */
const DOCUMENT_OF: Record<Cloud, { field: keyof TrustDocuments | 'gcp'; example: string }> = {
  aws: { field: 'trustPolicy', example: 'aws iam get-role --role-name etl-reader --output json' },
  azure: { field: 'federatedCredentials', example: 'az identity federated-credential list --identity-name etl --resource-group data -o json' },
  gcp: { field: 'gcp', example: 'airlock deployment identity setup <deployment> (GCP is not checked yet)' },
};

/**
 * Evaluates `docs` for the Deployment `input` describes (`setup` is its generated setup). Throws
 * `AppError('ERR_VALIDATION')` naming the field when the document is missing, is another cloud's,
 * or is not what the cloud's CLI prints.
 */
export function checkTrust(input: SetupInput, setup: SetupResult, docs: TrustDocuments): TrustCheckResult {
  const cloud = input.identity.identity.cloud;
  for (const [other, d] of Object.entries(DOCUMENT_OF) as [Cloud, (typeof DOCUMENT_OF)[Cloud]][]) {
    if (other !== cloud && d.field !== 'gcp' && docs[d.field] !== undefined) {
      throw new AppError('ERR_VALIDATION', `Deployment ${input.deployment.name}'s identity is in ${cloud}: ${d.field} is ${other}'s document`, {
        field: d.field,
        example: DOCUMENT_OF[cloud].example,
      });
    }
  }
  if (cloud === 'gcp') {
    throw new AppError('ERR_RULE_VIOLATION', `checking a GCP setup is not supported yet; follow the generated steps (airlock deployment identity setup ${input.deployment.name})`, {
      field: 'deployment',
      example: DOCUMENT_OF.gcp.example,
    });
  }
  const field = DOCUMENT_OF[cloud].field as keyof TrustDocuments;
  const doc = docs[field];
  if (doc === undefined) {
    throw new AppError('ERR_VALIDATION', `${field} is required: Deployment ${input.deployment.name}'s identity is in ${cloud}`, { field, example: DOCUMENT_OF[cloud].example });
  }
  const r = cloud === 'aws' ? checkAwsTrust(input, setup, doc) : checkAzureTrust(input, setup, doc);
  return { cloud, mode: setup.mode, ...r, ok: r.checks.every((c) => c.trusted) && !r.findings.some((f) => f.severity === 'error') };
}
