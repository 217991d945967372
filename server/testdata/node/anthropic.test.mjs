// Drives a running `dseek serve` with the official Anthropic SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.DSEEK_URL, apiKey: process.env.DSEEK_API_KEY, maxRetries: 0 });
const model = process.env.DSEEK_MODEL;

test('messages: thinking and text blocks, usage', async () => {
  const m = await client.messages.create({ model, max_tokens: 12, temperature: 0, system: 'Be brief.',
    messages: [{ role: 'user', content: 'Hello!' }] });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.content[0].type, 'thinking');
  assert.ok(['end_turn', 'max_tokens'].includes(m.stop_reason));
  assert.ok(m.usage.input_tokens + m.usage.cache_read_input_tokens > 0);
  assert.ok(m.usage.output_tokens <= 12);
});

test('messages stream: the SDK assembles the same message', async () => {
  const req = { model, max_tokens: 12, temperature: 0, messages: [{ role: 'user', content: 'Tell me something.' }] };
  const whole = await client.messages.create(req);
  const stream = client.messages.stream(req);
  const events = [];
  stream.on('streamEvent', (e) => events.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  assert.deepEqual(final.content, whole.content);
  assert.equal(final.stop_reason, whole.stop_reason);
  assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
});

test('tool_use and tool_result round trip is accepted', async () => {
  const tools = [{ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const m = await client.messages.create({ model, max_tokens: 6, temperature: 0, tools, messages: [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny, 24 C' }] },
  ] });
  assert.equal(m.type, 'message');
  assert.equal(m.stop_reason === 'tool_use', m.content.some((b) => b.type === 'tool_use'));
});

test('errors come back as Anthropic errors', async () => {
  await assert.rejects(
    client.messages.create({ model, max_tokens: 5, temperature: 3, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.status === 400 && e.error?.error?.type === 'invalid_request_error');
});
