"""`ragtune serve` under concurrent clients, on loopback: rows measured in one run, bounded in time and count.

Usage: python -m bench.serve_load [--set squad] [--retrieve-s 60 | --retrieve-s 0 (no retrieve rows)]
           [--retrieve-clients 50] [--ask-s 60] [--ask-clients 1 4 16 | --ask-clients (none: retrieval only)]
           [--max-answers 64] [--setting retrieval.reranker=none ...]

The server is the real CLI (`ragtune serve`, uvicorn, default config) over the reader-quality index of a set
(bench/reader_quality.py), started once with dynamic batching (generator.decode_batch 16) and once decoding one
request at a time (decode_batch 1); the clients run in this process, each sending its next request when the
last one ends (closed loop), questions taken in turn from the set's test questions.
- retrieve: POST /v1/retrieve (fused order, the fast path) from `--retrieve-clients` clients for
  `--retrieve-s` seconds: requests/s, p50/p99 latency, errors — once from keep-alive asyncio stream clients
  (`Connection`: httpx clients took about as much CPU as the server, so on 2 shared cores they measured
  themselves), and once from `wrk` (C, a Lua script cycling the same questions) where it is installed.
- ask: POST /v1/ask with stream true from 1, 4, 16 httpx clients (an answer's seconds dwarf a client's
  milliseconds), for `--ask-s` seconds or `--max-answers` answers,
  each row on its own questions (row i from question i * max_answers on: a question asked again would find its
  prompt in the generator's prefix cache and skip its prefill, the bulk of an answer's cost):
  answers/minute, p50/p95 latency, p50 time to the first token, errors, and the server's CPU seconds per
  answer (what batching can save shows there, whatever the clients cost); batched against one-at-a-time.
`--setting` changes the servers' config beyond decode_batch (a diagnostic row, e.g. without the reranker).
Goals (issue 22): 0 errors; retrieval >= 300 requests/s; with 16 clients batched >= 4x one-at-a-time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import RAGTUNE, commands, record
from .reader_quality import prepare


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`ragtune serve` in a child process, up when /v1/health answers."""

    def __init__(self, index: Path, decode_batch: int, log: list[str], settings: dict[str, str] | None = None):
        import yaml

        self.port = free_port()
        self.config = Path(tempfile.mkstemp(suffix=".yaml")[1])
        settings = {"generator.decode_batch": str(decode_batch), **(settings or {})}
        tree: dict = {}
        for key, value in settings.items():
            *sections, name = key.split(".")
            node = tree
            for section in sections:
                node = node.setdefault(section, {})
            node[name] = yaml.safe_load(value)
        self.config.write_text(yaml.safe_dump(tree))
        args = ["serve", "--index", str(index), "--port", str(self.port), "--config", str(self.config)]
        log.append(" ".join(["ragtune", *args]) + "  # config: "
                   + ", ".join(f"{key} {value}" for key, value in settings.items()))
        env = dict(os.environ)
        env.pop("RAGTUNE_API_KEY", None)
        self.process = subprocess.Popen([*RAGTUNE, *args], stdout=subprocess.DEVNULL, stderr=sys.stderr, env=env)
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait(self, client, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"ragtune serve exited with {self.process.returncode}")
            try:
                if (await client.get(f"{self.url}/v1/health")).status_code == 200:
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            await asyncio.sleep(0.5)
        raise SystemExit("ragtune serve did not come up")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.config.unlink(missing_ok=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def closed_loop(clients: int, seconds: float, limit: int | None, one_request) -> tuple[list[dict], float]:
    """`clients` workers each sending `one_request(i)` back to back until `seconds` pass or `limit` requests
    have started; returns each request's record and the wall time."""
    started, records = 0, []
    deadline = time.monotonic() + seconds

    async def worker():
        nonlocal started
        while time.monotonic() < deadline and (limit is None or started < limit):
            started += 1
            records.append(await one_request(started))

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return records, time.perf_counter() - begin


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads the reply by its Content-Length: a client
    costing tens of microseconds a request, where httpx costs about a millisecond, so that on 2 shared cores
    the retrieve row measures the server rather than its clients (wrk's role, where wrk is not installed)."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        if length is None:  # a chunked reply: not what the server sends for JSON, so counted as an error
            raise ValueError("reply without Content-Length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def retrieve_load(url: str, questions: list[str], clients: int, seconds: float) -> dict:
    connections = [Connection(url) for _ in range(clients)]
    free = list(connections)

    async def one(i: int) -> dict:
        start, why = time.perf_counter(), None
        connection = free.pop()
        try:
            status, body = await connection.post("/v1/retrieve", {"question": questions[i % len(questions)]})
            ok = status == 200 and bool(json.loads(body)["passages"])
            why = None if ok else f"{status}: {body[:120].decode(errors='replace')}"
        except Exception as exc:  # noqa: BLE001 - counted as an error, with its kind
            connection.close()
            ok, why = False, f"{type(exc).__name__}: {str(exc)[:120]}"
        free.append(connection)
        return {"ok": ok, "s": time.perf_counter() - start, "why": why}

    await one(0)  # warm
    try:
        records, wall = await closed_loop(clients, seconds, None, one)
    finally:
        for connection in connections:
            connection.close()
    latencies = [r["s"] for r in records if r["ok"]]
    return {"client": "asyncio streams", "clients": clients, "requests": len(records),
            "errors": sum(not r["ok"] for r in records),
            "error_kinds": sorted({r["why"] for r in records if r["why"]})[:5],
            "requests_per_s": round(len(latencies) / wall, 1), "p50_s": percentile(latencies, 0.5),
            "p99_s": percentile(latencies, 0.99), "seconds": round(wall, 1)}


WRK_SCRIPT = """
local questions = {}
for line in io.lines(os.getenv("QUESTIONS")) do questions[#questions + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, "/v1/retrieve", nil, questions[(i % #questions) + 1])
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc): its cost per request, which a busy machine
    inflates far less than it does throughput."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def retrieve_load_wrk(url: str, questions: list[str], clients: int, seconds: float, log: list[str],
                      server_pid: int) -> dict | None:
    """The retrieve row driven by wrk (None where wrk is not installed): requests/s, p50/p99, errors, and the
    server's CPU milliseconds per request."""
    import re
    import shutil

    if shutil.which("wrk") is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="wrk-"))
    (folder / "questions.jsonl").write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    (folder / "retrieve.lua").write_text(WRK_SCRIPT)
    args = ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--timeout", "10s", "--latency",
            "-s", str(folder / "retrieve.lua"), url]
    log.append(f"QUESTIONS=questions.jsonl {' '.join(args[:-3])} retrieve.lua URL  # retrieve.lua: bench/serve_load.py")
    cpu = cpu_seconds(server_pid)
    out = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, QUESTIONS=str(folder /
                         "questions.jsonl"))).stdout
    cpu = cpu_seconds(server_pid) - cpu

    def seconds_of(label: str) -> float | None:
        found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return round(float(found[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[found[2]], 3) if found else None

    total = int(re.search(r"(\d+) requests in", out)[1])
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(re.search(r"Non-2xx or 3xx responses: (\d+)", out)[1]) if "Non-2xx" in out else 0
    return {"client": "wrk", "clients": clients, "requests": total, "errors": errors,
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50_s": seconds_of("50%"), "p99_s": seconds_of("99%"), "seconds": seconds,
            "server_cpu_ms_per_request": round(1000 * cpu / max(total, 1), 2)}


async def ask_load(client, url: str, questions: list[str], clients: int, seconds: float, limit: int,
                   server_pid: int | None = None, offset: int = 0) -> dict:
    """One row: the questions from `offset` on, `clients` at a time."""
    async def one(i: int) -> dict:
        start, first, ok, why = time.perf_counter(), None, False, None
        try:
            body = {"question": questions[(offset + i - 1) % len(questions)], "stream": True}
            async with client.stream("POST", f"{url}/v1/ask", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("event: token") and first is None:
                        first = time.perf_counter() - start
                    if line.startswith("event: sources"):
                        ok = True
                    if line.startswith("event: error"):
                        ok, why = False, "error event"
                        break
        except Exception as exc:  # noqa: BLE001 - counted as an error, with its kind
            ok, why = False, f"{type(exc).__name__}: {str(exc)[:120]}"
        return {"ok": ok, "s": time.perf_counter() - start, "first_s": first, "why": why}

    cpu = cpu_seconds(server_pid) if server_pid else 0.0
    records, wall = await closed_loop(clients, seconds, limit, one)
    cpu = cpu_seconds(server_pid) - cpu if server_pid else None
    done = [r for r in records if r["ok"]]
    return {"clients": clients, "answers": len(done), "errors": len(records) - len(done),
            "error_kinds": sorted({r["why"] or "no sources event" for r in records if not r["ok"]})[:5],
            "answers_per_min": round(60 * len(done) / wall, 1), "p50_s": percentile([r["s"] for r in done], 0.5),
            "p95_s": percentile([r["s"] for r in done], 0.95),
            "ttft_p50_s": percentile([r["first_s"] for r in done if r["first_s"] is not None], 0.5),
            "server_cpu_s_per_answer": round(cpu / len(done), 3) if cpu is not None and done else None,
            "seconds": round(wall, 1)}


async def run(args, index: Path, questions: list[str], log: list[str]) -> dict:
    import httpx

    result: dict = {"ask": {}}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        for mode, decode_batch in (("batched", 16), ("one_at_a_time", 1)):
            server = Server(index, decode_batch, log, args.settings)
            try:
                await server.wait(client)
                if mode == "batched" and args.retrieve_s > 0:
                    result["retrieve"] = await retrieve_load(server.url, questions, args.retrieve_clients,
                                                             args.retrieve_s)
                    print(json.dumps({"retrieve": result["retrieve"]}), file=sys.stderr, flush=True)
                    result["retrieve_wrk"] = retrieve_load_wrk(server.url, questions, args.retrieve_clients,
                                                               args.retrieve_s, log, server.process.pid)
                    print(json.dumps({"retrieve_wrk": result["retrieve_wrk"]}), file=sys.stderr, flush=True)
                if not args.ask_clients:
                    break  # retrieval only
                # warm (the first answer then loads nothing more), on the last question, which no row reaches
                await ask_load(client, server.url, questions, 1, 60, 1, offset=len(questions) - 1)
                rows = {}
                for row, clients in enumerate(args.ask_clients):
                    rows[clients] = await ask_load(client, server.url, questions, clients, args.ask_s,
                                                   args.max_answers, server.process.pid, row * args.max_answers)
                    print(json.dumps({mode: rows[clients]}), file=sys.stderr, flush=True)
                result["ask"][mode] = rows
            finally:
                server.stop()
    for clients, row in result["ask"].get("batched", {}).items():
        alone = result["ask"].get("one_at_a_time", {}).get(clients)
        if alone and alone["answers_per_min"]:
            row["vs_one_at_a_time"] = round(row["answers_per_min"] / alone["answers_per_min"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="squad")
    parser.add_argument("--retrieve-s", type=float, default=60)
    parser.add_argument("--retrieve-clients", type=int, default=50)
    parser.add_argument("--ask-s", type=float, default=60)
    parser.add_argument("--ask-clients", type=int, nargs="*", default=[1, 4, 16],
                        help="client counts of the ask rows; none: retrieval only")
    parser.add_argument("--max-answers", type=int, default=64)
    parser.add_argument("--setting", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config settings of both servers beyond decode_batch (e.g. retrieval.reranker=none)")
    args = parser.parse_args()
    args.settings = dict(item.split("=", 1) for item in args.setting)
    from ragtune.read.questions import load_questions

    log: list[str] = []
    test, index = prepare(args.set, log)
    questions = [q.text for q in load_questions(test)]
    result = {"bench": "serve_load", "set": args.set, **({"settings": args.settings} if args.settings else {}),
              **asyncio.run(run(args, index, questions, log))}
    batched16 = result["ask"].get("batched", {}).get(16, {})
    retrieve_rows = [row for row in (result.get("retrieve"), result.get("retrieve_wrk")) if row]
    errors = sum(r["errors"] for r in retrieve_rows)
    errors += sum(r["errors"] for rows in result["ask"].values() for r in rows.values())
    result["goals"] = {"errors": errors,
                       "retrieve_rps_ge_300": retrieve_rows[-1]["requests_per_s"] >= 300 if retrieve_rows else None,
                       "batched16_ge_4x": (batched16.get("vs_one_at_a_time") or 0) >= 4}
    record("serve load (`ragtune serve` on loopback)", result,
           notes="closed-loop clients in the benchmark's own process, on the same 2 cores as the server: "
           "retrieve from keep-alive asyncio stream connections, ask from httpx; retrieve_wrk = the same "
           "retrieve load from wrk (C), the goal's row when present; "
           "retrieve = POST /v1/retrieve (fused order); ask = POST /v1/ask streamed, latency to the last "
           "event, ttft to the first token event; batched = generator.decode_batch 16 (continuous batching on "
           "OpenVINO), one_at_a_time = decode_batch 1, same server otherwise. Commands: "
           + commands(log))


if __name__ == "__main__":
    main()
