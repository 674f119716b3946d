/** Server-Sent Events as the dashboard's stream sends them: one `event:` and one JSON `data:` line per block. */

export interface SseEvent {
  /** The block's `event:` name, 'message' when it has none. */
  event: string;
  data: any;
}

/** The events of a response body in order, each block's JSON parsed; ends with the body (or when the caller stops). */
export async function* sseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) yield { event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message', data: JSON.parse(data) };
    }
  }
}
