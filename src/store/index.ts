export { openSqliteStore, SqliteStore, TREE_HEAD_WITNESS_DIR } from './sqlite/sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { migrateToLatest, checkSchema, MIGRATION_NAMES, knownMigrations } from './migrations/index.js';
export { openBackend, migrateBackend, pendingMigrations, sqliteNodeKey } from './backend.js';
export type { Backend, BackendOptions, MigrateTarget } from './backend.js';
export { LocalChangeFeed } from './change-feed.js';
export type { ChangeFeed, TaskChange, LogChange } from './change-feed.js';
export { PostgresChangeFeed, redactUrl } from './postgres-change-feed.js';
export type { PostgresChangeFeedOptions } from './postgres-change-feed.js';
export { openPostgresStore } from './postgres/index.js';
export type { PostgresStoreOptions, MaintenanceOptions } from './postgres/index.js';
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
  BreakerOutcomes,
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
export { agentCodeDigest, encodeAgentCode, decodeAgentCode } from './agent-code.js';
export { materialiseAgentCode } from './agent-code-dir.js';
export type { AgentCodeFile, AgentCodeVersion } from './agent-code.js';
