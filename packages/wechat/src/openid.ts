/**
 * What an openid may be: WeChat's are 28 characters of this set (its own examples); some room is
 * left for longer ones. An openid names a customer's keys in Redis, so nothing else is taken as one.
 */
export const OPENID = /^[A-Za-z0-9_-]{1,64}$/;
