/**
 * The reply was recalled by its agent before any of it went: it is not delivered, and completes.
 * `afterAll`: the recall came while its first part was on its way, and its agent was told it was
 * too late; WeChat then refused the part, so the reply is withdrawn after all (its agent is told).
 */
export class ReplyWithdrawn extends Error {
  override readonly name = 'ReplyWithdrawn';

  constructor(
    message: string,
    readonly afterAll = false,
  ) {
    super(message);
  }
}
