export { canonicalBytes, canonicalText } from './canonical.js';
export { deriveNodeId, isNodeId } from './node-id.js';
export { NodeIdentity } from './identity.js';
export type {
  IdentitySecrets,
  NodePublicKeys,
  GenerateIdentityOptions,
  RotateIdentityOptions,
} from './identity.js';
export { saveIdentity, loadIdentity } from './identity-file.js';
export type { SaveIdentityOptions, LoadIdentityOptions } from './identity-file.js';
export { ENCODING_VERSION, KEY_ALG, SIG_SUITE, encodeKey, decodeKey } from './encoding.js';
export type { KeyAlg, SignatureSuite } from './encoding.js';
export { MLDSA_CONTEXT, signBytes, verifyBytes } from './signature.js';
export type { SigningKeys, VerifyingKeys } from './signature.js';
export { HybridKeyPair, verifyHybrid, decodeHybridPublicKey } from './hybrid.js';
export { signDocument, verifyDocument } from './document.js';
export type { SignedDocument } from './document.js';
export { createRegistration, verifyRegistration, createInvite } from './registration.js';
export type {
  RegistrationBody,
  InviteBody,
  SignedRegistration,
  SignedInvite,
  VerifiedRegistration,
  CreateRegistrationOptions,
  CreateInviteOptions,
} from './registration.js';
export { createRotation, verifyRotation } from './rotation.js';
export type { RotationBody, SignedRotation, CreateRotationOptions, VerifiedRotation } from './rotation.js';
export { MemoryTrustStore, JsonFileTrustStore } from './trust-store.js';
export type { TrustStore, TrustSnapshot, StoredNode, Revocation, Admission } from './trust-store.js';
export { TrustRegistry } from './trust-registry.js';
export type { TrustRegistryOptions, RegisteredNode, AdminKey } from './trust-registry.js';
export { deriveSessionKey, deriveTopicKey } from './session-key.js';
export { ReplayGuard } from './replay-guard.js';
export type { ReplayGuardOptions, ReplayGuardState, ReplayTicket } from './replay-guard.js';
export { ENVELOPE_VERSION, parseEnvelope } from './envelope-format.js';
export type { EnvelopeHeader, ParsedEnvelope } from './envelope-format.js';
export { SwarmChannel } from './swarm-channel.js';
export type { Destination, OpenedEnvelope, SwarmChannelOptions } from './swarm-channel.js';
export {
  signReceipt,
  verifyReceipt,
  verifyReceiptWithRegistration,
  digestBytes,
  digestJson,
} from './receipt.js';
export type { ReceiptBody, ReceiptFields, SignedReceipt } from './receipt.js';
export { PROTOCOL, systemClock, systemRandom } from './runtime.js';
export type { Clock, RandomBytes } from './runtime.js';
