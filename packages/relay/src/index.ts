export { AgentLoad } from './agent-assignment.js';
export { ConversationLine, type Turn } from './conversation-line.js';
export { type Customer, IdentityMap, userIdFor } from './identity-map.js';
export { type StateKeys, stateKeys } from './keys.js';
export { imMessageIds } from './message-ids.js';
export { takesTurn } from './ordering.js';
export { RateGate } from './rate-gate.js';
export { type Begun, RelayTurn } from './relay-turn.js';
