"""The benchmark's clients, in their own process: POST bodies to the local API with C parallel clients.

    python -m tools.emulator.loadgen URL API_KEY CONCURRENCY [RATE] < bodies.jsonl > results.jsonl

Each input line is a JSON body; each output line is ``{"id", "sent", "done", "status"}`` (epoch
seconds when the request went out and when its answer came back). A client keeps its HTTP
connection open, as an SDK would.
Without RATE (or 0) each client sends its next request when the previous one is answered (a closed
loop: as fast as the API answers); with RATE the clients together send RATE requests per second,
the n-th at ``start + n / RATE`` (or as soon as a client is free, when they fall behind). Running
outside the emulator's process keeps the clients' work off the emulator's interpreter (one GIL).
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time
from urllib.parse import urlsplit


def main(argv: list[str]) -> int:
    url, key, concurrency = argv[0], argv[1], int(argv[2])
    rate = float(argv[3]) if len(argv) > 3 else 0.0
    target = urlsplit(url)
    if not target.hostname:
        raise SystemExit(f"loadgen: {url!r} is not an http://host:port/path URL")
    host = target.hostname
    bodies: queue.Queue[tuple[int, bytes]] = queue.Queue()
    for number, line in enumerate(line for line in sys.stdin.buffer if line.strip()):
        bodies.put((number, line.strip()))
    start = time.time() + 0.05
    results: list[dict] = []
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(host, target.port, timeout=60)
        while True:
            try:
                number, body = bodies.get_nowait()
            except queue.Empty:
                break
            if rate > 0:
                time.sleep(max(0.0, start + number / rate - time.time()))
            sent = time.time()
            try:
                connection.request(
                    "POST", target.path, body=body, headers={"Content-Type": "application/json", "x-api-key": key}
                )
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, target.port, timeout=60)
                status = 0
            with lock:
                results.append(
                    {"id": json.loads(body)["transaction_id"], "sent": sent, "done": time.time(), "status": status}
                )
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
