/**
 * What a request may reach inside the organization, resolved at the edge from the caller's token
 * and the workspace it named. Domain services look workspace objects up only within it, and an
 * object outside it is reported as not found, never as forbidden.
 */
export interface Scope {
  workspaceId: string;
  /** Set for a Deployment-scoped token: only this Deployment exists for the request. */
  deploymentId?: string | undefined;
}
