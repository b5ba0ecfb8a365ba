export { AgentLoad } from './agent-assignment.js';
export { ConversationLine, type Turn } from './conversation-line.js';
export { type Customer, IdentityMap, userIdFor } from './identity-map.js';
export { type StateKeys, stateKeys } from './keys.js';
export { imMessageIds } from './message-ids.js';
export { takesTurn } from './ordering.js';
export { type Lease, RateGate, paceCap } from './rate-gate.js';
export { LockLostError } from './lock-lost-error.js';
export { type Begun, RelayTurn } from './relay-turn.js';
