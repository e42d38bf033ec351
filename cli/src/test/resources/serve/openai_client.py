"""Plain and streaming chat through the official openai package against panamax serve.

Usage: openai_client.py BASE_URL API_KEY; prints one JSON object with what came back.
"""
import json
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0, timeout=60)
messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]

plain = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0)

pieces = []
finish = None
usage = None
stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0, stream=True,
                                        stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage.completion_tokens
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason

models = client.models.list()
try:
    client.chat.completions.create(model="tiny", messages=[], max_tokens=2)
    bad_request = None
except openai.BadRequestError as e:
    bad_request = e.status_code

print(json.dumps({
    "content": plain.choices[0].message.content,
    "finish_reason": plain.choices[0].finish_reason,
    "completion_tokens": plain.usage.completion_tokens,
    "streamed": "".join(pieces),
    "stream_finish_reason": finish,
    "stream_usage": usage,
    "models": [m.id for m in models.data],
    "bad_request": bad_request,
}))
