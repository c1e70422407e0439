"""An Ollama- and OpenAI-compatible HTTP server over llama-cpp-python, serving one real GGUF model.

For Hearth's end-to-end tests: the real API shapes ollama-rs expects, real streaming, real token
counts, real JSON-schema-constrained output and a real context limit. One thread, greedy decoding.

  python3 ollama_server.py --model PATH.gguf --name smollm2:135m [--ctx 2048] [--port 0]

Prints "listening on http://127.0.0.1:PORT" once ready. Endpoints: GET /api/version, GET /api/tags,
POST /api/show, POST /api/chat (streaming NDJSON or one JSON); the OpenAI-compatible GET /v1/models and
POST /v1/chat/completions (server-sent events or one JSON; like LM Studio, no context size reported;
tools as llama.cpp's server started with --jinja streams them: `delta.tool_calls` with the id and
name first, then the arguments string in pieces, then finish_reason "tool_calls"; a model whose
template takes no tools is refused as that server refuses tools without --jinja);
GET /debug/requests (what each chat request cost: prompt tokens, generated tokens, the context size,
tools offered and the tool calls made).

Tools as Ollama does them: `/api/show` lists the `tools` capability when the model's chat template
takes tools (Qwen2.5 does, SmolLM2 does not, and a request with tools to it gets Ollama's 400 "does
not support tools"); the template renders the tools; the call the model writes (llama-cpp-python
returns Qwen's `<tool_call>` JSON as plain text) is held back while streaming and sent as one
`message.tool_calls` line with ids and argument objects, then the final line, exactly as Ollama
0.12 streams it; assistant `tool_calls` and `role: tool` results in later requests go back into the
template.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from llama_cpp import Llama

LOCK = threading.Lock()
STATS = []


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-compatible"

    def log_message(self, fmt, *args):  # quiet: the tests read stdout for the port only
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except json.JSONDecodeError as e:
            self.send_json(400, {"error": f"invalid JSON: {e}"})
            return None

    def do_GET(self):
        cfg = self.server.cfg
        if self.path == "/api/version":
            self.send_json(200, {"version": "0.12.6"})
        elif self.path == "/api/tags":
            self.send_json(200, {"models": [{
                "name": cfg.name, "model": cfg.name, "modified_at": cfg.modified_at,
                "size": cfg.size, "digest": cfg.digest,
                "details": {"parent_model": "", "format": "gguf", "family": cfg.family, "families": [cfg.family],
                            "parameter_size": cfg.parameter_size, "quantization_level": cfg.quantization},
            }]})
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": cfg.name, "object": "model", "created": 0, "owned_by": "local"}]})
        elif self.path == "/debug/requests":
            with LOCK:
                self.send_json(200, {"context": cfg.ctx, "requests": STATS})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        body = self.read_json()
        if body is None:
            return
        cfg = self.server.cfg
        model = body.get("model") or body.get("name") or ""
        if self.path == "/v1/chat/completions":
            if model != cfg.name:
                self.send_json(404, {"error": {"message": f"The model `{model}` does not exist",
                                               "type": "invalid_request_error", "code": "model_not_found"}})
            else:
                self.openai_chat(body)
            return
        if self.path in ("/api/show", "/api/chat") and model not in (cfg.name, cfg.name + ":latest"):
            self.send_json(404, {"error": f"model '{model}' not found"})
            return
        if self.path == "/api/show":
            self.send_json(200, {
                "license": "Apache-2.0", "modelfile": f"FROM {cfg.name}", "parameters": f"num_ctx {cfg.ctx}",
                "template": cfg.template, "details": {"format": "gguf", "family": cfg.family},
                "model_info": {"general.architecture": cfg.family, f"{cfg.family}.context_length": cfg.ctx},
                "capabilities": (["completion", "tools"] if cfg.tools else ["completion"])
                + (["vision"] if cfg.vision else []),
            })
        elif self.path == "/api/chat":
            self.chat(body)
        else:
            self.send_json(404, {"error": "not found"})

    def chat(self, body):
        cfg = self.server.cfg
        llm = self.server.llm
        tools = body.get("tools") or None
        if tools and not cfg.tools:
            # What Ollama answers when the model's template has no tools.
            self.send_json(400, {"error": f"registry.ollama.ai/library/{cfg.name} does not support tools"})
            return
        has_images = any(m.get("images") for m in body.get("messages", []))
        if has_images and not cfg.vision:
            # What Ollama answers when the model has no projector.
            self.send_json(500, {"error": "this model is missing data required for image input"})
            return
        messages = [to_llama_message(m) for m in body.get("messages", [])]
        options = body.get("options") or {}
        stream = body.get("stream", True)
        kwargs = {"temperature": 0.0, "top_k": 1, "max_tokens": int(options.get("num_predict") or cfg.max_tokens)}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        fmt = body.get("format")
        if isinstance(fmt, dict):
            kwargs["response_format"] = {"type": "json_object", "schema": fmt}
        elif fmt == "json":
            kwargs["response_format"] = {"type": "json_object"}
        names = {t.get("function", {}).get("name") for t in tools or []}
        with LOCK:
            started = time.monotonic_ns()
            llm.reset()
            try:
                if not stream:
                    out = llm.create_chat_completion(messages=messages, **kwargs)
                else:
                    chunks = llm.create_chat_completion(messages=messages, stream=True, **kwargs)
                    first = next(chunks, None)
            except ValueError as e:  # llama.cpp: "Requested tokens (N) exceed context window of M"
                STATS.append({"prompt_tokens": None, "generated": 0, "rejected": str(e)})
                self.send_json(400, {"error": str(e)})
                return
            if not stream:
                usage = out.get("usage", {})
                reason = out["choices"][0].get("finish_reason") or "stop"
                final = final_line(cfg.name, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), reason, started)
                content = out["choices"][0]["message"]["content"] or ""
                calls = parse_tool_calls(content, names) if tools else None
                final["message"] = {"role": "assistant", "content": "" if calls else content}
                if calls:
                    final["message"]["tool_calls"] = calls
                STATS.append({"prompt_tokens": final["prompt_eval_count"], "generated": final["eval_count"],
                              "rejected": None, "tools": len(tools or []), "tool_calls": calls or []})
                self.send_json(200, final)
                return
            # The prompt has been evaluated once the first chunk exists.
            prompt_tokens = llm.n_tokens
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            generated = 0
            reason = "stop"
            # Like Ollama: with tools, text that may be the start of a call is held back
            # until it is clearly one (sent as `tool_calls`) or clearly not (sent as text).
            held = "" if tools else None
            calls = []
            try:
                pending = [first] if first else []
                for chunk in pending_then(pending, chunks):
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content") or ""
                    if choice.get("finish_reason"):
                        reason = choice["finish_reason"]
                    if not piece:
                        continue
                    generated += 1
                    if held is not None:
                        held += piece
                        if may_be_tool_call(held):
                            continue
                        piece, held = held, None
                    self.write_chunk(content_line(cfg.name, piece))
                if held is not None:
                    calls = parse_tool_calls(held, names)
                    if calls:
                        self.write_chunk({"model": cfg.name, "created_at": now(), "message": {
                            "role": "assistant", "content": "", "tool_calls": calls}, "done": False})
                    elif held:
                        self.write_chunk(content_line(cfg.name, held))
                self.write_chunk(final_line(cfg.name, prompt_tokens, generated, reason, started))
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            STATS.append({"prompt_tokens": prompt_tokens, "generated": generated, "rejected": None,
                          "tools": len(tools or []), "tool_calls": calls,
                          "images": sum(len(m.get("images") or []) for m in body.get("messages", []))})

    def openai_chat(self, body):
        cfg = self.server.cfg
        llm = self.server.llm
        tools = body.get("tools") or None
        if tools and not cfg.tools:
            # What llama.cpp's server answers to tools when started without --jinja.
            self.send_json(500, {"error": {"code": 500, "message": "tools param requires --jinja flag",
                                           "type": "server_error"}})
            return
        messages = [from_openai_message(m) for m in body.get("messages", [])]
        stream = body.get("stream", False)
        kwargs = {"temperature": 0.0, "top_k": 1, "max_tokens": int(body.get("max_tokens") or cfg.max_tokens)}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            kwargs["response_format"] = {"type": "json_object", "schema": fmt.get("json_schema", {}).get("schema")}
        elif fmt.get("type") == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        names = {t.get("function", {}).get("name") for t in tools or []}
        with LOCK:
            llm.reset()
            try:
                if not stream:
                    out = llm.create_chat_completion(messages=messages, **kwargs)
                else:
                    chunks = llm.create_chat_completion(messages=messages, stream=True, **kwargs)
                    first = next(chunks, None)
            except ValueError as e:
                STATS.append({"prompt_tokens": None, "generated": 0, "rejected": str(e), "api": "openai"})
                self.send_json(400, {"error": {"message": str(e), "type": "invalid_request_error"}})
                return
            if not stream:
                usage = out.get("usage", {})
                message = out["choices"][0]["message"]
                calls = parse_tool_calls(message.get("content") or "", names) if tools else None
                if calls:
                    message["content"] = None
                    message["tool_calls"] = [openai_call(c) for c in calls]
                    out["choices"][0]["finish_reason"] = "tool_calls"
                STATS.append({"prompt_tokens": usage.get("prompt_tokens"), "generated": usage.get("completion_tokens", 0),
                              "rejected": None, "api": "openai", "tools": len(tools or []), "tool_calls": calls or []})
                self.send_json(200, out)
                return
            prompt_tokens = llm.n_tokens
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            generated = 0
            # As llama.cpp's server does with tools: text that may be a call is held back; a
            # call goes out as `delta.tool_calls` (id, type and name first, then the arguments
            # string in pieces) and the choice finishes with "tool_calls".
            held = "" if tools else None
            calls = []
            last = None
            try:
                for chunk in pending_then([first] if first else [], chunks):
                    last = chunk
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content") or ""
                    if piece:
                        generated += 1
                    if held is None or not piece:
                        if held is not None and choice.get("finish_reason"):
                            continue  # the finish goes out once the held text is settled
                        self.write_event(chunk)
                        continue
                    held += piece
                    if may_be_tool_call(held):
                        continue
                    choice["delta"]["content"], held = held, None
                    self.write_event(chunk)
                if held is not None and last is not None:
                    calls = parse_tool_calls(held, names)
                    base = {k: last[k] for k in ("id", "object", "created", "model") if k in last}
                    if calls:
                        for i, c in enumerate(calls):
                            call = openai_call(c)
                            arguments = call["function"]["arguments"]
                            call["function"]["arguments"] = ""
                            self.write_event(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [dict(call, index=i)]},
                                                                  "finish_reason": None}]))
                            for at in range(0, len(arguments), 8):
                                self.write_event(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                                    {"index": i, "function": {"arguments": arguments[at:at + 8]}}]}, "finish_reason": None}]))
                        reason = "tool_calls"
                    else:
                        if held:
                            self.write_event(dict(base, choices=[{"index": 0, "delta": {"content": held},
                                                                  "finish_reason": None}]))
                        reason = last["choices"][0].get("finish_reason") or "stop"
                    self.write_event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": reason}]))
                self.write_raw(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            STATS.append({"prompt_tokens": prompt_tokens, "generated": generated, "rejected": None, "api": "openai",
                          "tools": len(tools or []), "tool_calls": calls or []})

    def write_event(self, chunk):
        self.write_raw(("data: " + json.dumps(chunk, ensure_ascii=False) + "\n\n").encode())

    def write_raw(self, data):
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def write_chunk(self, obj):
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def content_line(name, piece):
    return {"model": name, "created_at": now(), "message": {"role": "assistant", "content": piece}, "done": False}


def to_llama_message(m):
    """An Ollama chat message as llama-cpp-python's chat template wants it (OpenAI's shape)."""
    out = {"role": m.get("role", "user"), "content": m.get("content", "")}
    if m.get("tool_calls"):
        out["tool_calls"] = [{
            "id": c.get("id") or f"call_{i}", "type": "function",
            "function": {"name": c["function"]["name"], "arguments": c["function"].get("arguments") or {}},
        } for i, c in enumerate(m["tool_calls"])]
    if m.get("role") == "tool" and m.get("tool_name"):
        out["name"] = m["tool_name"]
    if m.get("images"):
        # Ollama's base64 `images` as OpenAI content parts, which the LLaVA chat handler reads.
        parts = [{"type": "text", "text": out["content"]}]
        for b64 in m["images"]:
            mime = "image/png" if b64.startswith("iVBOR") else "image/jpeg"
            parts.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{b64}"}})
        out["content"] = parts
    return out


def from_openai_message(m):
    """An OpenAI chat message as llama-cpp-python's chat template wants it: a call's arguments
    (a JSON string on the wire) as an object, no null content."""
    out = {"role": m.get("role", "user"), "content": m.get("content") or ""}
    if m.get("tool_calls"):
        calls = []
        for i, c in enumerate(m["tool_calls"]):
            arguments = c.get("function", {}).get("arguments") or "{}"
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except json.JSONDecodeError:
                    pass
            calls.append({"id": c.get("id") or f"call_{i}", "type": "function",
                          "function": {"name": c["function"]["name"], "arguments": arguments}})
        out["tool_calls"] = calls
    if m.get("role") == "tool" and m.get("tool_call_id"):
        out["tool_call_id"] = m["tool_call_id"]
    if isinstance(m.get("content"), list):
        out["content"] = m["content"]
    return out


def openai_call(call):
    """An Ollama-shaped call from parse_tool_calls as the OpenAI API writes it."""
    return {"id": call["id"], "type": "function",
            "function": {"name": call["function"]["name"],
                         "arguments": json.dumps(call["function"]["arguments"], ensure_ascii=False)}}


def may_be_tool_call(text):
    """Whether streamed text so far may still turn out to be a tool call."""
    t = text.lstrip()
    return t == "" or t.startswith("{") or t.startswith("```") or "<tool_call>".startswith(t[:11]) or t.startswith("<tool_call>")


def parse_tool_calls(text, names):
    """Qwen's calls as llama-cpp-python returns them: JSON objects `{"name", "arguments"}`, bare
    or inside <tool_call> tags or a code fence, one or more (a missing closing brace at the end is
    added). Ollama's `tool_calls` when every
    object names an offered tool, else None (the text is an answer)."""
    t = text.strip()
    for junk in ("<tool_call>", "</tool_call>", "```json", "```"):
        t = t.replace(junk, " ")
    decoder = json.JSONDecoder()
    calls, i = [], 0
    t = t.strip()
    while i < len(t):
        if t[i].isspace():
            i += 1
            continue
        obj = None
        # The 0.5B model often drops the last closing brace; Ollama's parser, which reads
        # the JSON from the template's own tags, is as forgiving of that.
        for repair in ("", "}", "}}"):
            try:
                obj, end = decoder.raw_decode(t[i:] + repair)
                i += min(end, len(t) - i)
                break
            except json.JSONDecodeError:
                continue
        if not isinstance(obj, dict) or obj.get("name") not in names:
            return None
        args = obj.get("arguments") or obj.get("parameters") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                return None
        calls.append({"id": "call_" + hashlib.sha256(f"{time.time_ns()}{len(calls)}".encode()).hexdigest()[:8],
                      "function": {"index": len(calls), "name": obj["name"], "arguments": args}})
    return calls or None


def pending_then(pending, rest):
    yield from pending
    yield from rest


def final_line(name, prompt_tokens, generated, reason, started):
    total = time.monotonic_ns() - started
    return {"model": name, "created_at": now(), "message": {"role": "assistant", "content": ""}, "done": True,
            "done_reason": "length" if reason == "length" else "stop", "total_duration": total,
            "load_duration": 0, "prompt_eval_count": prompt_tokens, "prompt_eval_duration": total // 4,
            "eval_count": generated, "eval_duration": total - total // 4}


class Config:
    pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--name", default="smollm2:135m")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parameter-size", default="135M")
    parser.add_argument("--quantization", default="Q4_1")
    parser.add_argument("--mmproj", help="a vision projector GGUF: the model then sees pictures")
    args = parser.parse_args()
    cfg = Config()
    cfg.name, cfg.ctx, cfg.max_tokens = args.name, args.ctx, args.max_tokens
    cfg.size = os.path.getsize(args.model)
    cfg.digest = hashlib.sha256(args.model.encode()).hexdigest()
    cfg.modified_at = now()
    handler = None
    if args.mmproj:
        from llama_cpp.llama_chat_format import Llava15ChatHandler
        handler = Llava15ChatHandler(clip_model_path=args.mmproj, verbose=False)
    llm = Llama(model_path=args.model, n_ctx=args.ctx, n_threads=1, n_threads_batch=1, seed=0, verbose=False,
                chat_handler=handler)
    cfg.vision = handler is not None
    # What Ollama reads from the model too: its family, and whether its template takes tools.
    meta = llm.metadata
    cfg.family = meta.get("general.architecture", "llama")
    cfg.template = meta.get("tokenizer.chat_template") or "{{ .Prompt }}"
    cfg.tools = "tools" in cfg.template
    cfg.parameter_size = args.parameter_size
    cfg.quantization = args.quantization
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.cfg, server.llm = cfg, llm
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
