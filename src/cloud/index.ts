import type { Cloud } from '../domain/terms.ts';
import { awsProvider } from './aws/setup.ts';
import { azureProvider } from './azure/setup.ts';
import { gcpProvider } from './gcp/setup.ts';
import type { CloudProvider } from './types.ts';

/** Every cloud Airlock generates setup for. Adding a cloud: one folder under src/cloud/ and one entry here. */
export const CLOUD_PROVIDERS: Readonly<Record<Cloud, CloudProvider>> = Object.freeze({
  aws: awsProvider,
  gcp: gcpProvider,
  azure: azureProvider,
});

export type { CloudProvider, SetupInput, SetupResult } from './types.ts';
