/**
 * dpg's dependency rule (issue #16), checked by `npm run typecheck`:
 *   shared <- protocol <- backend <- topology <- planner <- physical <- execution <- frontend <- app
 *   (src/physical/: a plan + parameter values + the snapshot -> tasks),
 * the control plane beside execution (never the frontend), ops (cluster processes, CLI,
 * bench, chaos) on top, and nothing in the core importing ops.
 * backend/ and topology/ are stages of their own; the other folders are being moved into
 * stages, and the rules below hold for the folders as they are. No import breaks them
 * (`.dependency-cruiser-known-violations.json` is empty): any that does fails.
 */
const CORE = '^src/(shared|protocol|backend|topology|planner|physical|executor|server|catalog|vector|metrics|config|util|maintenance|rebalance)/';
const OPS = '^src/(cli|bench|chaos|cluster)/';

module.exports = {
  forbidden: [
    {
      name: 'core-uses-no-ops',
      comment: 'The core (and the control plane) never import ops: cluster processes, the CLI, benchmarks, chaos.',
      severity: 'error',
      // src/server/main.ts is the coordinator process's composition root (app): it may read the cluster's files.
      from: { path: CORE, pathNot: '^src/server/main\\.ts$' },
      to: { path: OPS },
    },
    {
      name: 'shared-is-the-bottom',
      comment: 'shared (errors, quoting, logging) imports nothing of dpg.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'protocol-uses-only-shared',
      comment: 'The codec and authentication know nothing above them.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/(shared|protocol)/' },
    },
    {
      name: 'backend-uses-only-protocol',
      comment: 'Connections to nodes, pools, replica choice and the classification of their failures: below the catalog and everything that plans or runs statements.',
      severity: 'error',
      from: { path: '^src/backend/' },
      to: { path: '^src/', pathNot: '^src/(shared|protocol|backend)/' },
    },
    {
      name: 'topology-uses-only-backend',
      comment: 'The catalog snapshot, its distribution functions, the leader tracker and the type maps: nothing that plans, runs or serves.',
      severity: 'error',
      from: { path: '^src/topology/' },
      to: { path: '^src/', pathNot: '^src/(shared|protocol|backend|topology)/' },
    },
    {
      name: 'planner-is-pure',
      comment: 'The planner turns SQL and a catalog snapshot into plans: no execution, no frontend, no processes, no metrics.',
      severity: 'error',
      from: { path: '^src/planner/' },
      to: { path: '^src/(physical|executor|server|cluster|rebalance|maintenance|metrics|cli|bench|chaos)/' },
    },
    {
      name: 'physical-is-pure',
      comment: 'Physical planning turns a plan, parameter values and the snapshot into tasks (group, SQL with shard names, LIMIT and search forms filled in): pure, below execution.',
      severity: 'error',
      from: { path: '^src/physical/' },
      to: { path: '^src/(backend|executor|server|cluster|rebalance|maintenance|metrics|vector|catalog|cli|bench|chaos)/' },
    },
    {
      name: 'execution-not-frontend',
      comment: 'Execution (and the stages below it, metrics, vector search) never import the frontend: the client output they write to is the protocol stage\'s.',
      severity: 'error',
      from: { path: '^src/(executor|metrics|vector|catalog|config|util)/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'control-plane-not-frontend',
      comment: 'DDL propagation, the rebalancer, moves, tiers and maintenance use topology, backend and execution, never the frontend.',
      severity: 'error',
      from: { path: '^src/(rebalance|maintenance|vector/tier-manager)' },
      to: { path: '^src/server/' },
    },
    {
      name: 'nobody-takes-the-coordinator',
      comment: 'Stages own the interfaces they need (ExecutorHost, SessionHost, RecoveryHost, CollectorHost, NodeDirectory); only the composition root builds the Coordinator.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/server/(main|coordinator)\\.ts$' },
      to: { path: '^src/server/coordinator\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'Stages depend one way.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js'] },
  },
};
