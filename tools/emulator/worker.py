"""One Lambda sandbox: runs a deployed handler in its own process.

Started by ``tools.emulator.runtime`` as ``python worker.py CODE_DIR HANDLER REQ_FD RESP_FD``, with the
function's environment. Like the Lambda Python runtime it puts the extracted deployment package first
on ``sys.path`` (``/var/task``), imports ``module.function`` once (the cold start) and then serves
invocations one at a time. Third-party code (Powertools, boto3) comes from the interpreter's
site-packages, standing in for the layer and the runtime.

The protocol is one JSON document per line on two pipes (not stdout: handlers and Powertools print
their logs there). This file uses the standard library only and imports nothing from the project, so
the only project code the handler can see is the deployed zip.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env["EMULATOR_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _peak_memory_mb() -> float:
    """Peak resident memory of this process. ``VmHWM`` where Linux has it: ``ru_maxrss`` keeps the
    high-water mark of the parent that forked this process, across ``exec``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[1:],
    }


def main() -> None:
    code_dir, handler_name, req_fd, resp_fd = sys.argv[1:5]
    # The sandbox sees its package first, then site-packages (layer + runtime); never the repository.
    sys.path[0] = code_dir
    os.chdir(code_dir)
    requests = os.fdopen(int(req_fd), "r", encoding="utf-8")
    responses = os.fdopen(int(resp_fd), "w", encoding="utf-8")

    module_name, _, function_name = handler_name.rpartition(".")
    init_error = None
    handler = None
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # reported on every invocation, as Runtime.ImportModuleError
        init_error = {**_error(exc), "errorType": "Runtime.ImportModuleError"}
    init_ms = (time.perf_counter() - started) * 1000
    responses.write(json.dumps({"ready": True, "init_ms": init_ms}) + "\n")
    responses.flush()

    for line in requests:
        request = json.loads(line)
        started = time.perf_counter()
        if init_error is not None:
            reply: dict[str, Any] = {"ok": False, "error": init_error}
        else:
            try:
                context = LambdaContext(request["request_id"], request["deadline_ms"])
                result = handler(request["event"], context)  # type: ignore[misc]
            except Exception as exc:
                reply = {"ok": False, "error": _error(exc)}
            else:
                try:
                    reply = {"ok": True, "result": json.loads(json.dumps(result))}
                except (TypeError, ValueError) as exc:  # what Lambda answers for an unserialisable result
                    reply = {"ok": False, "error": {**_error(exc), "errorType": "Runtime.MarshalError"}}
        sys.stdout.flush()
        sys.stderr.flush()
        reply["duration_ms"] = (time.perf_counter() - started) * 1000
        reply["max_rss_mb"] = _peak_memory_mb()
        responses.write(json.dumps(reply) + "\n")
        responses.flush()


if __name__ == "__main__":
    main()
