/** What the board needs to say whose message a job is. */
interface JobLike {
  name: string;
  data: unknown;
}

/**
 * A job's title on the board: its kind and whose message it is — the customer (openid) of a
 * WeChat push, the agent and customer of a reply — so a failed relay can be traced without
 * opening its data. The failure itself (the platform's code and reason, in words) is the job's
 * failedReason, which the board shows as it is.
 */
export function describeJob(job: JobLike): string {
  const data = (job.data ?? {}) as { message?: { fromUserName?: string }; agent?: string; openid?: string };
  if (data.message?.fromUserName !== undefined) return `${job.name} from customer ${data.message.fromUserName}`;
  if (data.agent !== undefined && data.openid !== undefined) return `${job.name} from agent ${data.agent} to customer ${data.openid}`;
  return job.name;
}
