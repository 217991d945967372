// Drives a running `dseek serve` (DSEEK_URL, DSEEK_API_KEY, DSEEK_MODEL)
// with the official OpenAI SDK. Started by run.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.DSEEK_URL + '/v1';
const apiKey = process.env.DSEEK_API_KEY;
const model = process.env.DSEEK_MODEL;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });

const ask = (content) => [{ role: 'user', content }];

test('models list names the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
  const one = await client.models.retrieve(model);
  assert.equal(one.id, model);
});

test('chat non-stream: reasoning_content, content and usage fields', async () => {
  const r = await client.chat.completions.create({ model, messages: ask('Hello, who are you?'), max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  const c = r.choices[0];
  assert.equal(c.message.role, 'assistant');
  // The fixture's R1 template ends the prompt inside <think>: the output is reasoning.
  assert.equal(typeof c.message.reasoning_content, 'string');
  assert.ok(c.message.reasoning_content.length > 0);
  assert.ok(['stop', 'length'].includes(c.finish_reason));
  const u = r.usage;
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, u.prompt_cache_hit_tokens);
  assert.ok(u.completion_tokens <= 12);
});

test('chat stream adds up to the non-streamed answer, usage last', async () => {
  const req = { model, messages: ask('Count to ten.'), max_tokens: 16, temperature: 0 };
  const whole = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let reasoning = '', content = '', finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      const d = ch.delta;
      assert.ok(!(d.reasoning_content && d.content), 'reasoning and content never share a delta');
      reasoning += d.reasoning_content ?? '';
      content += d.content ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(reasoning, whole.choices[0].message.reasoning_content);
  assert.equal(content, whole.choices[0].message.content ?? '');
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  // The same prompt again is served from the prefix cache.
  assert.ok(usage.prompt_cache_hit_tokens > 0, 'second identical prompt hits the prefix cache');
});

test('thinking disabled yields no reasoning_content', async () => {
  const r = await client.chat.completions.create({ model, messages: ask('Quick answer.'), max_tokens: 6, temperature: 0, thinking: { type: 'disabled' } });
  assert.equal(r.choices[0].message.reasoning_content, undefined);
});

test('completions and fill-in-the-middle', async () => {
  const r = await client.completions.create({ model, prompt: 'The capital of France is', max_tokens: 5, temperature: 0, logprobs: 2 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.equal(r.choices[0].logprobs.tokens.length, r.usage.completion_tokens);
  const fim = await client.completions.create({ model, prompt: 'def add(a, b):\n    ', suffix: '\n    return c\n', max_tokens: 5, temperature: 0 });
  assert.equal(typeof fim.choices[0].text, 'string');
  assert.ok(fim.usage.prompt_tokens > r.usage.prompt_tokens);
  const stream = await client.completions.create({ model, prompt: 'The capital of France is', max_tokens: 5, temperature: 0, stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.text ?? '';
  assert.equal(text, r.choices[0].text);
});

test('tool-call round trip: tools, assistant tool_calls and tool results are accepted', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
  const first = await client.chat.completions.create({ model, messages: ask('Weather in Paris?'), tools, tool_choice: 'auto', max_tokens: 8, temperature: 0 });
  const fr = first.choices[0].finish_reason;
  // A random-weight model rarely calls a tool; finish_reason says tool_calls only when calls exist.
  assert.equal(fr === 'tool_calls', (first.choices[0].message.tool_calls ?? []).length > 0);
  const messages = [
    ...ask('Weather in Paris?'),
    { role: 'assistant', content: null, reasoning_content: 'I need the tool.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Paris' }) } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny, 24 C' },
  ];
  const second = await client.chat.completions.create({ model, messages, tools, max_tokens: 8, temperature: 0 });
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens + 10, 'the call and its result are in the prompt');
  // The prompt of the first request is a prefix of the second one's: cache hit.
  assert.ok(second.usage.prompt_cache_hit_tokens > 0);
});

test('json_object response_format gives JSON (or a prefix when cut)', async () => {
  const r = await client.chat.completions.create({ model, messages: ask('Describe a cat in json.'), max_tokens: 60, temperature: 0,
    response_format: { type: 'json_object' }, thinking: { type: 'disabled' } });
  const text = r.choices[0].message.content;
  if (r.choices[0].finish_reason === 'stop') assert.equal(typeof JSON.parse(text), 'object');
  else assert.ok(text.trimStart().startsWith('{'));
});

test('errors: a bad field is a 400 naming it; a wrong key is a 401', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: ask('x'), temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature');
  await assert.rejects(
    client.chat.completions.create({ model, messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
  await assert.rejects(
    client.chat.completions.create({ model, messages: ask('word '.repeat(3000)), max_tokens: 1 }),
    (e) => e.status === 400 && e.code === 'context_length_exceeded');
  const bad = new OpenAI({ baseURL, apiKey: 'wrong-key', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});
