/**
 * The video link in `media/get`'s answer for a customer's video (`{"video_url": …}`), or undefined
 * when there is none the gateway could stream: not a string, not a URL, or neither http nor https.
 *
 * WeChat's links are plain http (its CDN serves videos over http only, e.g.
 * `http://203.205.x.x/vweixinp.tc.qq.com/<file>.mp4?vkey=…`): asking for https would refuse every
 * real video. The link comes only from WeChat's own answer, read over the API's https.
 */
export function videoLinkOf(answer: Record<string, unknown>): string | undefined {
  const link = answer['video_url'];
  if (typeof link !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return undefined;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? link : undefined;
}
