import { FoldError } from '../resources/resource';
import { MESSAGE, type MessageState } from './message.resource';

// The message's fold is declared in message.resource.ts (with its state); these are its names for readers.
export { FoldError as MessageFoldError, type MessageState };
export const applyMessageEvent = MESSAGE.applyEvent;
