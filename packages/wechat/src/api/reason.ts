const MEDIA = 'the media is too large or in a format WeChat does not take';

const REASONS = new Map<number, string>([
  [0, 'WeChat could not be reached or did not answer'],
  [-1, 'WeChat is busy; it can be tried again shortly'],
  [45015, "the customer's 48-hour window has closed, or the customer has unfollowed the account"],
  [45047, 'the reply quota for this window is used up; the customer has to write again first'],
  [43004, 'the customer does not follow the account'],
  [40003, 'the customer is unknown to this account (invalid openid)'],
  [43019, 'the customer has blocked the account'],
  [48001, 'this account is not allowed to send customer-service messages'],
  [45002, 'the message is too long'],
  [40200, 'this account may not send menu messages (only a verified service account may)'],
  [40007, 'the media has expired or does not exist (uploads last 3 days)'],
  [40004, MEDIA],
  [40005, MEDIA],
  [40006, MEDIA],
  [40009, MEDIA],
  [40010, MEDIA],
  [40011, MEDIA],
  [40012, MEDIA],
  [45001, MEDIA],
  [41005, 'the upload carried no file'],
  [45009, "WeChat's daily limit for this API is reached"],
  [45011, 'too many calls this minute; it can be tried again in a minute'],
  [40001, 'the access token was refused'],
  [40014, 'the access token was refused'],
  [42001, 'the access token had expired'],
  [40013, "the relay's WeChat AppID is wrong"],
  [40125, "the relay's WeChat AppSecret is wrong"],
  [40164, "the relay's IP address is not on the account's whitelist"],
  [89501, "the relay's IP address awaits the administrator's confirmation"],
  [89503, "the relay's IP address needs the administrator's confirmation"],
  [45080, 'the typing state can only be shown within 30 seconds of a message'],
  [45081, 'the typing state is already shown'],
]);

/** Why WeChat refused, in plain words for an agent: from the errcode alone (0 for no answer). */
export function reasonOf(code: number): string {
  return REASONS.get(code) ?? `WeChat refused the message (errcode ${code})`;
}
