export { openSqliteStore, SqliteStore, TREE_HEAD_WITNESS_DIR } from './sqlite/sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { migrateToLatest, checkSchema, MIGRATION_NAMES } from './migrations/index.js';
export type { Database } from './schema.js';
export type {
  Store,
  NewTask,
  SubmitOutcome,
  ClaimRequest,
  ClaimedTask,
  ClaimOutcome,
  Finish,
  FinishOutcome,
  BreakerUpdate,
  LogLine,
  TaskFilter,
  DeadLetter,
  AgentRecord,
  StoreStats,
  TraceFlagRecord,
  GovernanceRecord,
  FlagFilter,
  FlagCount,
  AgentRunStat,
  ApiKeyRecord,
  TraceRecord,
  TraceSummary,
  TraceFilter,
  Role,
} from './store.js';
