/** The reply was recalled by its agent before any of it went: it is not delivered, and completes. */
export class ReplyWithdrawn extends Error {
  override readonly name = 'ReplyWithdrawn';
}
