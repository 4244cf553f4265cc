import type { Data } from './app.js';

export interface Stream {
  /** Each event's value of the subscription field. */
  events: Data[];
  /** The server ended the stream with `event: complete`. */
  completed: boolean;
}

/**
 * A subscription over GraphQL over SSE, as plain fetch does it: one POST answered with
 * `event: next` blocks, then `event: complete`. Rejects with the errors of an event that has them.
 */
export async function overSse(url: string, token: string, query: string, variables: Record<string, unknown>, field: string): Promise<Stream> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.headers.get('content-type')?.includes('text/event-stream')) throw new Error(`not an event stream: ${response.status} ${await response.text()}`);
  const stream: Stream = { events: [], completed: false };
  for (const block of (await response.text()).split('\n\n')) {
    const lines = block.split('\n');
    if (lines.includes('event: complete')) stream.completed = true;
    const data = lines.find((line) => line.startsWith('data: ') && line.length > 'data: '.length);
    if (!data || !lines.includes('event: next')) continue;
    const result = JSON.parse(data.slice('data: '.length)) as { data?: Data; errors?: unknown };
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    stream.events.push(result.data?.[field]);
  }
  return stream;
}
