/**
 * The layering of src/, checked by `npm run check:boundaries` (README, "Layout"):
 *
 *   contracts (Zod only) ← domain ← app ← http, ui ← server.ts (composition root) ← main.ts
 *                          domain ← store (implements the domain's repository interfaces)
 *   openapi (tRPC, trpc-to-openapi): the contract registry for `npm run generate`, never on a request path
 *   sdk ← cli: the CLI reaches the server only through the SDK
 *   main.ts, cli/main.ts ← bin.ts: the `devicegate` executable dispatches to the server or the CLI
 *
 * There are no known violations: any finding fails CI. Server-side tools the executable runs
 * (hash-password.ts, rotate-keys.ts) sit beside the server, so the CLI imports no server code.
 */

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles anywhere in src/.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-the-core',
      severity: 'error',
      comment: 'The domain imports nothing of the layers around it (entities and repository interfaces live in it).',
      from: { path: '^src/domain/' },
      to: { path: '^src/(http|ui|store|app|openapi|cli|sdk|server\\.ts|main\\.ts)' },
    },
    {
      name: 'store-implements-the-domain',
      severity: 'error',
      comment: 'Stores import only the domain (and themselves), plus the metrics registry (Redis latency and errors).',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/((store|domain)/|metrics\\.ts$)' },
    },
    {
      name: 'observability-is-a-leaf',
      severity: 'error',
      comment: 'The metrics registry and the log serializer import nothing of src/, so every layer may use them.',
      from: { path: '^src/(metrics|logging)\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'app-is-transport-free',
      severity: 'error',
      comment: 'The application layer imports the domain and the contracts, never HTTP, pages, stores or tRPC.',
      from: { path: '^src/app/' },
      to: { path: '^src/(http|ui|store|openapi|cli|sdk|server\\.ts|main\\.ts)' },
    },
    {
      name: 'contracts-import-nothing-above',
      severity: 'error',
      comment: 'Contracts are Zod schemas: they import only each other and zod.',
      from: { path: '^src/contracts/' },
      to: { pathNot: '^(src/contracts/|node_modules/zod/)' },
    },
    {
      name: 'http-and-ui-do-not-reach-around',
      severity: 'error',
      comment: 'The HTTP layer and the pages run use cases; they do not import the CLI, the SDK or tRPC.',
      from: { path: '^src/(http|ui)/' },
      to: { path: '^src/(cli|sdk|openapi|server\\.ts|main\\.ts)' },
    },
    {
      name: 'http-uses-no-store',
      severity: 'error',
      comment: 'The HTTP layer reaches storage only through the domain\'s interfaces (wired in server.ts).',
      from: { path: '^src/http/' },
      to: { path: '^src/store/' },
    },
    {
      name: 'trpc-only-builds-the-document',
      severity: 'error',
      comment: 'tRPC and trpc-to-openapi feed `npm run generate` only: nothing on a request path imports them.',
      from: { path: '^src/', pathNot: '^src/openapi/' },
      to: { path: '^(src/openapi/|node_modules/(@trpc|trpc-to-openapi)/)' },
    },
    {
      name: 'cli-only-through-the-sdk',
      severity: 'error',
      comment: 'The CLI reaches the server only through the SDK: it imports cli/, sdk/, node builtins and npm packages.',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli|sdk)/' },
    },
    {
      name: 'sdk-is-standalone',
      severity: 'error',
      comment: 'The SDK ships to teams on its own: it imports itself and the generated types only.',
      from: { path: '^src/sdk/' },
      to: { path: '^src/', pathNot: '^src/sdk/' },
    },
    {
      name: 'nothing-imports-the-entry-points',
      severity: 'error',
      comment: 'main.ts (the server), rotate-keys.ts, hash-password.ts and cli/main.ts (the CLI) run as they load; only the executable, bin.ts, dispatches to them.',
      from: { path: '^src/', pathNot: '^src/bin\\.ts$' },
      to: { path: '^src/(main|rotate-keys|hash-password|cli/main)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
