/** Words for well-known scopes; the config's `verification.scope_descriptions` adds and overrides. */
const BUILT_IN: Readonly<Record<string, string>> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your name and basic profile',
  email: 'See your email address',
  offline_access: 'Stay signed in and renew access while you are away',
};

export function describeScopes(scopes: readonly string[], configured: Readonly<Record<string, string>>) {
  return scopes.map((scope) => ({ scope, description: configured[scope] ?? BUILT_IN[scope] ?? null }));
}
