// What the signed-in token's role may do (GET /api/v1/tokens/self), so pages offer only the actions
// it holds. The API decides regardless: a hidden button is a courtesy, not the control.
import { createContext, useContext } from 'react';

export const PermissionsContext = createContext<ReadonlySet<string>>(new Set());

/** `can('connection.write')`: whether the signed-in token's role holds that permission. */
export function useCan(): (permission: string) => boolean {
  const held = useContext(PermissionsContext);
  return (permission) => held.has(permission);
}
