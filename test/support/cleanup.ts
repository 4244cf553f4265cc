import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Client, Data } from './app.js';
import { TERMINAL } from './gc.js';

export const CLEANUP_JOB_FIELDS = /* GraphQL */ `
  fragment CleanupJobFields on CleanupJob {
    id status phase trigger dryRun tagsTotal tagsDeleted expectedBytesFreed bytesFreed percent error
    createdAt startedAt finishedAt gcJob { id status bytesFreed }
  }
`;

export const PREVIEW = /* GraphQL */ `
  query ($registryId: ID!, $rules: [CleanupRuleInput!]!) {
    cleanupPreview(registryId: $registryId, rules: $rules) {
      deleteCount keepCount bytesFreed refusedRepositories
      deletions(first: 100) { nodes { tag { name digest repository { name } } reason { kind rule ruleName message } } }
      keeps(first: 100) { nodes { tag { name repository { name } } reason { kind rule message } } }
    }
  }
`;

export const SET_POLICY = /* GraphQL */ `
  mutation ($input: SetCleanupPolicyInput!) {
    setCleanupPolicy(input: $input) {
      __typename
      ... on SetCleanupPolicyPayload { policy { schedule enabled nextRunAt rules { name tagRegex olderThanDays keepRegex keepSigned allowEmptyRepositories } } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
`;

export const RUN_CLEANUP = /* GraphQL */ `
  mutation ($input: RunCleanupInput!) {
    runCleanup(input: $input) {
      __typename
      ... on RunCleanupPayload { job { ...CleanupJobFields } }
      ... on CleanupAlreadyRunningError { job { id status } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
  ${CLEANUP_JOB_FIELDS}
`;

export const CLEANUP_JOB = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on CleanupJob {
        ...CleanupJobFields
        deletions(first: 100) { totalCount nodes { repository tag digest rule reason deleted error } }
      }
    }
  }
  ${CLEANUP_JOB_FIELDS}
`;

export const CLEANUP_PROGRESS = /* GraphQL */ `
  subscription ($id: ID!) { cleanupJobProgress(id: $id) { ...CleanupJobFields } }
  ${CLEANUP_JOB_FIELDS}
`;

/** "repository:tag" of each preview entry, in the preview's order. */
export const entryNames = (connection: Data): string[] => connection.nodes.map((node: Data) => `${node.tag.repository.name}:${node.tag.name}`);

/** Saves a policy; throws with the result when it was refused. */
export async function setPolicy(client: Client, input: Record<string, unknown>): Promise<Data> {
  const { data, errors } = await client.execute(SET_POLICY, { input });
  if (data?.setCleanupPolicy?.__typename !== 'SetCleanupPolicyPayload') throw new Error(`setCleanupPolicy refused: ${JSON.stringify(data ?? errors)}`);
  return data.setCleanupPolicy.policy;
}

/** Starts a run; throws with the result when it was refused. */
export async function runCleanup(client: Client, registryId: string, dryRun = false): Promise<Data> {
  const { data, errors } = await client.execute(RUN_CLEANUP, { input: { registryId, dryRun } });
  if (data?.runCleanup?.__typename !== 'RunCleanupPayload') throw new Error(`runCleanup refused: ${JSON.stringify(data ?? errors)}`);
  return data.runCleanup.job;
}

/** Every event of cleanupJobProgress over graphql-ws, until the stream completes. */
export async function followCleanup(url: string, token: string, id: string): Promise<Data[]> {
  const client = createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const events: Data[] = [];
  try {
    for await (const result of client.iterate<Data>({ query: CLEANUP_PROGRESS, variables: { id } })) {
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      events.push(result.data!.cleanupJobProgress);
    }
  } finally {
    await client.dispose();
  }
  return events;
}

/** Polls the job until it has ended. */
export async function waitForCleanupJob(client: Client, id: string, timeoutMs = 60_000): Promise<Data> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data, errors } = await client.execute(CLEANUP_JOB, { id });
    const job = data?.node;
    if (!job) throw new Error(`cleanup job ${id} not visible: ${JSON.stringify(errors)}`);
    if (TERMINAL.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`cleanup job ${id} stuck: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
