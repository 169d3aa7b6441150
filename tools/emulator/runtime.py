"""The Lambda runtime: each deployed function runs in its own worker processes (its sandboxes).

A function's deployment zip is extracted once into its own directory; each sandbox is a
``worker.py`` process started with the deployed handler name and environment (plus the emulator's
endpoint and test credentials), which imports the handler once and then serves invocations one at a
time, as a Lambda execution environment does. A function scales out to more sandboxes under
concurrent load, up to its reserved concurrency or ``max_sandboxes``.

The deployed timeout is enforced the way Lambda enforces it: an invocation that outlives it kills its
sandbox and fails with ``Sandbox.Timedout``. The memory size is reported, not enforced: each REPORT
line gives the sandbox's peak resident memory next to it, and a warning says when a function goes
over (a CPython process on this host is not the same size as on Lambda's arm64 runtime). Each function logs to
``<log_dir>/<function>.log`` with Lambda's START / END / REPORT lines around the handler's own output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.emulator.timings import TIMINGS
from tools.emulator.topology import FunctionSpec, Topology

log = logging.getLogger("emulator")

WORKER = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase of on-demand functions


@dataclass
class Invocation:
    """The outcome of one invocation, as Lambda reports it."""

    function: str
    request_id: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    max_rss_mb: float = 0.0
    cold_start: bool = False

    @property
    def error_type(self) -> str | None:
        return self.error.get("errorType") if self.error else None


class InvocationError(RuntimeError):
    pass


class RuntimeClosed(RuntimeError):
    """The runtime was closed (the emulator is shutting down); the invocation did not run."""


class _Sandbox:
    """One worker process for one function."""

    def __init__(
        self, spec: FunctionSpec, code_dir: Path, env: dict[str, str], log: Path, app_id: str, python: str
    ) -> None:
        self.spec = spec
        self.app_id = app_id
        # botocore adds `app/<id>` to the user agent: the moto gateway knows which sandbox called.
        env = {**env, "AWS_SDK_UA_APP_ID": app_id}
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        with open(log, "ab") as log_file:
            self.process = subprocess.Popen(
                [python, str(WORKER), str(code_dir), spec.handler, str(req_r), str(resp_w)],
                env=env,
                cwd=code_dir,
                pass_fds=(req_r, resp_w),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        os.close(req_r)
        os.close(resp_w)
        self._requests = os.fdopen(req_w, "w", encoding="utf-8")
        self._responses = resp_r
        self._buffer = b""
        self.generation = 0
        self._killed = False
        self.exited = False  # the process closed its end of the reply pipe (it died)
        self._kill_lock = threading.Lock()
        ready = self._read(time.monotonic() + max(INIT_TIMEOUT_S, spec.timeout_s))
        if ready is None:
            self.kill()
            raise InvocationError(f"{spec.name}: the sandbox did not initialise within {INIT_TIMEOUT_S:.0f} s")
        self.init_ms = ready["init_ms"]

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """One reply line, or None when ``deadline`` passes or the process dies first."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._responses, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(self._responses, 65536)
                if not chunk:
                    self.exited = True
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def invoke(self, event: Any, request_id: str) -> dict[str, Any] | None:
        deadline_s = time.time() + self.spec.timeout_s
        self._requests.write(
            json.dumps({"event": event, "request_id": request_id, "deadline_ms": int(deadline_s * 1000)}) + "\n"
        )
        self._requests.flush()
        return self._read(time.monotonic() + self.spec.timeout_s)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def crash(self) -> None:
        """Kill the process now, as a crash would (the invocation in flight fails when it notices)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        with self._kill_lock:
            if self._killed:
                return
            self._killed = True
            if self.alive:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self._requests.close()
            os.close(self._responses)


class _Function:
    """The sandboxes of one function and the bookkeeping around them."""

    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        env: dict[str, str],
        log: Path,
        max_sandboxes: int,
        new_app_id: Any,
        python: str,
    ) -> None:
        self.spec = spec
        self.python = python
        self.new_app_id = new_app_id
        self.code_dir = code_dir
        self.env = env
        self.log = log
        # One descriptor for the function's lifetime (O_APPEND, as the sandboxes' own output): each write is
        # one system call, and a line never lands inside a sandbox's line.
        self._log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.limit = min(max_sandboxes, spec.reserved_concurrency or max_sandboxes)
        self.idle: list[_Sandbox] = []
        self.all: set[_Sandbox] = set()
        self.closed = False
        self.count = 0
        self.cond = threading.Condition()
        self.invocations = 0
        self.errors = 0
        self.memory_warned = False
        self.failure: dict[str, Any] | None = None  # an injected fault: every invocation fails with it
        self.started_aside: list[_Sandbox] = []
        self.generation = 0  # sandboxes of an older generation are retired when they are released

    def acquire(self) -> tuple[_Sandbox, bool]:
        with self.cond:
            while not self.closed and not self.idle and self.count >= self.limit:
                self.cond.wait()
            if self.closed:
                raise RuntimeClosed(self.spec.name)
            if self.idle:
                return self.idle.pop(), False
            self.count += 1
            env, generation = self.env, self.generation
        try:
            sandbox = _Sandbox(self.spec, self.code_dir, env, self.log, self.new_app_id(self), self.python)
        except BaseException:
            self.release(None)
            raise
        sandbox.generation = generation
        with self.cond:
            self.all.add(sandbox)
        return sandbox, True

    def acquire_started(self) -> None:
        """Take a sandbox and keep it aside until ``release_started`` (to start several at once)."""
        sandbox, _ = self.acquire()
        with self.cond:
            self.started_aside.append(sandbox)

    def release_started(self) -> None:
        with self.cond:
            aside, self.started_aside = self.started_aside, []
        for sandbox in aside:
            self.release(sandbox)

    def release(self, sandbox: _Sandbox | None) -> None:
        retired = False
        with self.cond:
            if sandbox is not None and sandbox.alive and not self.closed and sandbox.generation == self.generation:
                self.idle.append(sandbox)
            else:
                retired = sandbox is not None and sandbox.alive
                self.count -= 1
                self.all.discard(sandbox)
            self.cond.notify()
        if retired:
            sandbox.kill()  # type: ignore[union-attr]

    def renew(self, env: dict[str, str]) -> None:
        """New sandboxes from now on, with ``env``: the idle ones are stopped, the busy ones when they finish."""
        with self.cond:
            self.env = env
            self.generation += 1
            idle, self.idle = self.idle, []
            for sandbox in idle:
                self.count -= 1
                self.all.discard(sandbox)
            self.cond.notify_all()
        for sandbox in idle:
            sandbox.kill()

    def write_log(self, *lines: str) -> None:
        os.write(self._log_fd, "".join(line + "\n" for line in lines).encode("utf-8"))

    def close_log(self) -> None:
        os.close(self._log_fd)


class LambdaRuntime:
    """Runs the functions of a ``Topology``; ``invoke`` is a synchronous (RequestResponse) invocation."""

    def __init__(
        self,
        topology: Topology,
        aws_env: dict[str, str],
        log_dir: Path,
        max_sandboxes: int = 4,
        python: str | None = None,
    ) -> None:
        """``aws_env``: endpoint and test credentials for every sandbox; ``python``: the interpreter the sandboxes
        run (by default this process's)."""
        self.topology = topology
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self._code_root = tempfile.TemporaryDirectory(prefix="lambda-code-")
        self._functions: dict[str, _Function] = {}
        self._callers: dict[str, _Function] = {}  # sandbox app id -> its function
        self._ids_lock = threading.Lock()
        self._sandbox_count = 0
        for name, spec in topology.functions.items():
            code_dir = Path(self._code_root.name) / name
            with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                archive.extractall(code_dir)
            self._functions[name] = _Function(
                spec,
                code_dir,
                self._environment(spec, aws_env),
                log_dir / f"{name}.log",
                max_sandboxes,
                self._new_app_id,
                python or sys.executable,
            )

    def _new_app_id(self, function: _Function) -> str:
        with self._ids_lock:
            self._sandbox_count += 1
            app_id = f"sandbox-{self._sandbox_count}"
            self._callers[app_id] = function
        return app_id

    def caller(self, app_id: str) -> str | None:
        """The function whose sandbox has this ``AWS_SDK_UA_APP_ID`` (None: not a sandbox of this runtime)."""
        function = self._callers.get(app_id)
        return function.spec.name if function is not None else None

    def crash(self, app_id: str) -> None:
        """Kill one sandbox as a crash would (fault injection: ``LocalCloud.crash_after``)."""
        function = self._callers.get(app_id)
        for sandbox in list(function.all) if function is not None else []:
            if sandbox.app_id == app_id:
                sandbox.crash()

    def concurrency_limit(self, name_or_arn: str) -> int:
        """How many sandboxes the function can have at once."""
        return self._functions[self.topology.function(name_or_arn).name].limit

    def log_stream(self, name_or_arn: str) -> str:
        """The CloudWatch Logs stream name the function's sandboxes are told they write to."""
        return self._functions[self.topology.function(name_or_arn).name].env["AWS_LAMBDA_LOG_STREAM_NAME"]

    def log_file(self, name_or_arn: str) -> Path:
        return self._functions[self.topology.function(name_or_arn).name].log

    def _environment(self, spec: FunctionSpec, aws_env: dict[str, str]) -> dict[str, str]:
        region = self.topology.region
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": "/var/task",
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            # Lambda's stream name: date/[version]execution environment (here: one per function and run).
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex,
            "EMULATOR_FUNCTION_ARN": spec.arn,
            # The X-Ray daemon is not emulated: Powertools' tracer becomes a no-op.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **spec.environment,
            **aws_env,
        }

    def warm(self, full: bool = False) -> None:
        """Start one sandbox per function (``full``: as many as each may have), all at once, so their
        cold starts overlap."""
        threads = []
        for function in self._functions.values():
            for _ in range(function.limit if full else 1):
                threads.append(threading.Thread(target=function.acquire_started))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for function in self._functions.values():
            function.release_started()

    def function(self, name_or_arn: str) -> FunctionSpec:
        return self.topology.function(name_or_arn)

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        function = self._functions[self.topology.function(name_or_arn).name]
        spec = function.spec
        request_id = str(uuid.uuid4())
        function.write_log(f"START RequestId: {request_id} Version: $LATEST")
        if function.failure is not None:
            outcome = Invocation(spec.name, request_id, False, error=dict(function.failure))
        else:
            outcome = self._run(function, event, request_id)
        lines = []
        if outcome.error is not None:
            # Lambda logs an unhandled error as one JSON line before END.
            lines.append(
                json.dumps({"errorType": outcome.error.get("errorType"), "requestId": request_id, **outcome.error})
            )
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Memory Size: {spec.memory_mb} MB\tMax Memory Used: {outcome.max_rss_mb:.0f} MB"
            + ("\tInit: cold start" if outcome.cold_start else "")
            + (f"\tError: {outcome.error_type}" if outcome.error else "")
        )
        function.write_log(*lines)
        with function.cond:
            function.invocations += 1
            function.errors += not outcome.ok
        return outcome

    def _run(self, function: _Function, event: Any, request_id: str) -> Invocation:
        spec = function.spec
        waited = time.perf_counter()
        sandbox, cold = function.acquire()
        started = time.perf_counter()
        TIMINGS.add(f"{spec.name}: wait for a sandbox", started - waited)
        try:
            reply = sandbox.invoke(event, request_id)
        except (OSError, ValueError) as exc:  # the sandbox died or was killed by close()
            reply = None
            crash = f"Runtime exited before the invocation: {exc}"
        else:
            crash = "Runtime exited with error: the sandbox process died"
        duration_ms = (time.perf_counter() - started) * 1000
        if reply is None:
            # End of file on the reply pipe: the process died (it may not be reaped yet); else the deadline passed.
            timed_out = not sandbox.exited and sandbox.alive
            sandbox.kill()
            function.release(sandbox)
            if timed_out:
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"{request_id} Task timed out after {spec.timeout_s:.2f} seconds",
                }
            else:
                error = {"errorType": "Runtime.ExitError", "errorMessage": crash}
            return Invocation(spec.name, request_id, False, error=error, duration_ms=duration_ms, cold_start=cold)
        TIMINGS.add(f"{spec.name}: invoke", duration_ms / 1000)
        TIMINGS.add(f"{spec.name}: handler", reply["duration_ms"] / 1000)
        outcome = Invocation(
            spec.name,
            request_id,
            bool(reply["ok"]),
            result=reply.get("result"),
            error=reply.get("error"),
            duration_ms=reply["duration_ms"],
            max_rss_mb=reply["max_rss_mb"],
            cold_start=cold,
        )
        if outcome.max_rss_mb > spec.memory_mb and not function.memory_warned:
            # Reported, not enforced: a CPython process on this host is not the same size as the same
            # code on Lambda's arm64 runtime, so killing at the deployed size would be misleading.
            function.memory_warned = True
            log.warning(
                "%s used %.0f MB, more than its %d MB memory size (reported, not enforced)",
                spec.name,
                outcome.max_rss_mb,
                spec.memory_mb,
            )
        function.release(sandbox)
        return outcome

    def inject_failure(self, name_or_arn: str, message: str = "injected failure") -> None:
        """Make every invocation of a function fail (as an unhandled error) until ``clear_failure``."""
        function = self._functions[self.topology.function(name_or_arn).name]
        function.failure = {"errorType": "InjectedFault", "errorMessage": message}

    def clear_failure(self, name_or_arn: str) -> None:
        self._functions[self.topology.function(name_or_arn).name].failure = None

    def environment(self, name_or_arn: str) -> dict[str, str]:
        """The environment variables the function's sandboxes start with."""
        return dict(self._functions[self.topology.function(name_or_arn).name].env)

    def update_configuration(
        self,
        name_or_arn: str,
        *,
        timeout_s: int | None = None,
        environment: dict[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Change a function's timeout and/or environment variables (a value of None or "" removes one) as
        ``UpdateFunctionConfiguration`` does on Lambda: later invocations run in new sandboxes started with
        the new configuration (idle sandboxes are stopped now, busy ones when their invocation ends). The
        deployment in moto is not changed. Returns the former values, to put them back with
        ``update_configuration(name, **former)``."""
        function = self._functions[self.topology.function(name_or_arn).name]
        former: dict[str, Any] = {}
        env = dict(function.env)
        if environment is not None:
            former["environment"] = {name: env.get(name, "") for name in environment}
            for name, value in environment.items():
                if value is None or value == "":
                    env.pop(name, None)
                else:
                    env[name] = value
        if timeout_s is not None:
            former["timeout_s"] = function.spec.timeout_s
            function.spec = dataclasses.replace(function.spec, timeout_s=timeout_s)
        function.renew(env)
        return former

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each function's live sandboxes (Linux ``/proc``; {} elsewhere)."""
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        result = {}
        for name, function in self._functions.items():
            total = 0.0
            for sandbox in list(function.all):
                try:
                    fields = Path(f"/proc/{sandbox.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
            result[name] = total
        return result

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            name: {"invocations": f.invocations, "errors": f.errors, "sandboxes": f.count}
            for name, f in self._functions.items()
        }

    def close(self) -> None:
        """Kill every sandbox, busy ones included; later invocations raise ``RuntimeClosed``."""
        for function in self._functions.values():
            with function.cond:
                function.closed = True
                sandboxes, function.idle = list(function.all), []
                function.cond.notify_all()
            for sandbox in sandboxes:
                sandbox.kill()
            function.close_log()
        self._code_root.cleanup()
