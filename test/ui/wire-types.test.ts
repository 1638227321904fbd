/**
 * The console restates the API's answers as TypeScript types (ui/src/types.ts), because it is
 * built on its own. This holds them to the API's own response schemas at typecheck time: each
 * answer must fit the console's type for it, so a field the console reads cannot be renamed,
 * dropped or retyped in the API without `npm test` failing here.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { z } from 'zod';
import type { auditRecordJson } from '../../src/api/routes/audit.ts';
import type { backupJson, backupListJson } from '../../src/api/routes/backups.ts';
import type { clusterJson, keyJson } from '../../src/api/routes/clusters.ts';
import type { connectionJson, metastoreJson } from '../../src/api/routes/connections.ts';
import type { credentialJson } from '../../src/api/routes/delivery.ts';
import type { checkJson, deploymentJson, setupJson } from '../../src/api/routes/deployments.ts';
import type { savedJson } from '../../src/api/routes/identities.ts';
import type { resolveJson } from '../../src/api/routes/resolve.ts';
import type { selfJson, tokenJson } from '../../src/api/routes/tokens.ts';
import type { variableJson } from '../../src/api/routes/variables.ts';
import type { workspaceJson } from '../../src/api/routes/workspaces.ts';
import type * as Ui from '../../ui/src/types.ts';

/** `true` when the API's answer can be used where the console expects its type; a compile error otherwise. */
type Fits<Api, Console> = [Api] extends [Console] ? true : never;
type Out<S extends z.ZodType> = z.output<S>;

const fits: Record<string, true> = {
  Deployment: true satisfies Fits<Out<typeof deploymentJson>, Ui.Deployment>,
  Cluster: true satisfies Fits<Out<typeof clusterJson>, Ui.Cluster>,
  SigningKey: true satisfies Fits<Out<typeof keyJson>, Ui.SigningKey>,
  SavedIdentity: true satisfies Fits<Out<typeof savedJson>, Ui.SavedIdentity>,
  Credential: true satisfies Fits<Out<typeof credentialJson>, Ui.Credential>,
  Setup: true satisfies Fits<Out<typeof setupJson>, Ui.Setup>,
  TrustCheck: true satisfies Fits<Out<typeof checkJson>, Ui.TrustCheck>,
  Variable: true satisfies Fits<Out<typeof variableJson>, Ui.Variable>,
  Connection: true satisfies Fits<Out<typeof connectionJson>, Ui.Connection>,
  MetastoreConnection: true satisfies Fits<Out<typeof metastoreJson>, Ui.MetastoreConnection>,
  Resolved: true satisfies Fits<Out<typeof resolveJson>, Ui.Resolved>,
  AuditRecord: true satisfies Fits<Out<typeof auditRecordJson>, Ui.AuditRecord>,
  ApiToken: true satisfies Fits<Out<typeof tokenJson>, Ui.ApiToken>,
  Self: true satisfies Fits<Out<typeof selfJson>, Ui.Self>,
  Workspace: true satisfies Fits<Out<typeof workspaceJson>, Ui.Workspace>,
  Backup: true satisfies Fits<Out<typeof backupJson>, Ui.Backup>,
  BackupList: true satisfies Fits<Out<typeof backupListJson>, Ui.BackupList>,
};

it("the console's types fit the API's answers (checked by the typecheck; listed here)", () => {
  assert.deepEqual(Object.keys(fits).length, 17);
});
