/**
 * What an openid may be: WeChat's are 28 characters of base64's URL-safe alphabet (its own
 * examples); the rest of base64's and some room for longer ones are let through. An openid names a
 * customer's keys in Redis, so nothing else is taken as one: no ':' (the keys' separator), no '{'
 * or '}' (a Redis Cluster hash tag), no space or control character.
 */
export const OPENID = /^[A-Za-z0-9_\-+/=]{1,64}$/;
