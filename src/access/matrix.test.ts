import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GENERATED_BEGIN, GENERATED_END, PERMISSIONS, ROLES, ROLE_PERMISSIONS, generatedAccessDocs, roleAllows, roleCovers, type Permission, type Role } from './matrix.ts';

describe('the permission matrix', () => {
  it('docs/access.md carries the tables generated from it (regenerate: node --import tsx scripts/access-docs.ts)', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'access.md'), 'utf8');
    const start = doc.indexOf(GENERATED_BEGIN);
    const end = doc.indexOf(GENERATED_END);
    assert.ok(start >= 0 && end > start, 'docs/access.md has the generated-table markers');
    assert.equal(doc.slice(start, end + GENERATED_END.length), generatedAccessDocs());
  });

  it('names only known permissions, and the organization owner has every one', () => {
    for (const r of ROLES) for (const p of ROLE_PERMISSIONS[r]) assert.ok(Object.hasOwn(PERMISSIONS, p), `${r}: unknown permission ${p}`);
    assert.deepEqual([...ROLE_PERMISSIONS['organization-owner']].sort(), Object.keys(PERMISSIONS).sort());
  });

  // The wording of each role, as cases: a change to the matrix that breaks one fails here.
  const cases: { role: Role; may: Permission[]; mayNot: Permission[] }[] = [
    { role: 'organization-member', may: ['cluster.read', 'workspace.read'], mayNot: ['cluster.write', 'deployment.read', 'token.write', 'audit.read'] },
    { role: 'workspace-owner', may: ['deployment.write', 'token.write'], mayNot: ['cluster.write', 'workspace.write', 'audit.read'] },
    { role: 'workspace-operator', may: ['deployment.write', 'identity.write', 'credential.write'], mayNot: ['token.read', 'token.write', 'cluster.write'] },
    { role: 'workspace-viewer', may: ['deployment.read', 'identity.read', 'credential.read'], mayNot: ['deployment.write', 'credential.write', 'identity.write', 'token.read'] },
    { role: 'deployment-admin', may: ['deployment.read', 'credential.read', 'credential.write', 'variable.read', 'variable.write'], mayNot: ['deployment.write', 'identity.read', 'cluster.read', 'token.write'] },
    { role: 'workspace-viewer', may: ['variable.read'], mayNot: ['variable.write'] },
    { role: 'workspace-operator', may: ['variable.read', 'variable.write'], mayNot: [] },
    { role: 'organization-member', may: [], mayNot: ['variable.read', 'variable.write'] },
  ];
  for (const c of cases) {
    it(`${c.role}: may ${c.may.join(', ')}; may not ${c.mayNot.join(', ')}`, () => {
      for (const p of c.may) assert.equal(roleAllows(c.role, p), true, `${c.role} should have ${p}`);
      for (const p of c.mayNot) assert.equal(roleAllows(c.role, p), false, `${c.role} should not have ${p}`);
    });
  }

  it('roles are ordered by power within a workspace: owner ⊇ operator ⊇ viewer; deployment-admin is not below viewer', () => {
    assert.ok(roleCovers('workspace-owner', 'workspace-operator'));
    assert.ok(roleCovers('workspace-operator', 'workspace-viewer'));
    assert.ok(!roleCovers('workspace-viewer', 'workspace-operator'));
    assert.ok(!roleCovers('workspace-viewer', 'deployment-admin'), 'deployment-admin writes credentials, which a viewer cannot');
    assert.ok(roleCovers('workspace-operator', 'deployment-admin'));
    assert.ok(!roleCovers('organization-member', 'workspace-viewer'));
  });
});
