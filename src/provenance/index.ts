export { GENESIS_HASH, chainRecord, canonicalRecordJson, verifyChain, sha256Hex } from './chain.js';
export type {
  ProvenanceEvent,
  ProvenanceEventType,
  ProvenanceRecord,
  ChainHead,
  ChainedRecord,
  StoredLink,
  ChainVerification,
} from './chain.js';
