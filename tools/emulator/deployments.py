"""Several local-cloud deployments, prepared side by side: ``python -m tools.emulator.deployments``.

Each deployment (an environment suffix, a profile and a stream routing) is applied into a moto server of its
own, in a process of its own, with its requests recorded (``tools.emulator.snapshot``), and then planned again
to record what a second apply would change (nothing, when the configuration is stable). Later runs of the
demo, the benchmark or the e2e tests restore a recording in a few seconds instead of applying. An apply is
bound by the AWS provider's own polling (it waits for queues, functions and endpoints in 5 s steps), so
several applies side by side take little longer than one: the e2e session prepares every deployment it uses
this way before its first test.

    python -m tools.emulator.deployments e2e-eventbridge:local:eventbridge e2e-prod-direct:prod:direct
    python -m tools.emulator.deployments --jobs 2 ...          # at most two at once

A deployment whose recording matches its inputs is left alone. The Lambda zips are packaged once, first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tools._cli import BUILD, ToolError, progress, run
from tools.deploy import package

LOG = "prepare.log"


@dataclass(frozen=True)
class Deployment:
    suffix: str
    profile: str
    stream_consumer: str

    @classmethod
    def parse(cls, text: str) -> Deployment:
        parts = text.split(":")
        if len(parts) != 3 or not all(parts) or parts[2] not in ("eventbridge", "direct"):
            raise ToolError(f"a deployment is SUFFIX:PROFILE:ROUTING (routing eventbridge or direct), got {text!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.suffix}:{self.profile}:{self.stream_consumer}"


def up_to_date(deployment: Deployment) -> bool:
    """Whether ``deployment``'s recording (and the plan after it) matches its inputs as they are now."""
    from tools.deploy import tfvars
    from tools.deploy.tf import Stack
    from tools.emulator import demo

    stack = Stack(deployment.suffix)
    marker, recording = stack.dir / demo.FINGERPRINT, stack.dir / demo.RECORDING
    if not (marker.is_file() and recording.is_file() and stack.state_file.is_file()):
        return False
    arguments = demo.tfvars_arguments(deployment.suffix, deployment.profile, deployment.stream_consumer)
    if tfvars.main([*arguments, "--output", str(stack.var_file)]) != 0:
        raise ToolError(f"rendering the variables of {deployment} failed (see above)")
    return marker.read_text() == demo.fingerprint(stack) and demo.second_plan(deployment.suffix) is not None


def apply_one(deployment: Deployment) -> int:
    """Apply one deployment into a moto server of its own (this process), recording it, then plan it again."""
    from tools.emulator.demo import deploy
    from tools.emulator.localaws import LocalAWS

    with LocalAWS() as aws:
        deploy(
            aws,
            deployment.stream_consumer,
            suffix=deployment.suffix,
            profile=deployment.profile,
            fresh=True,
            packaged=True,
            second_plan=True,
        )
    return 0


def prepare(deployments: Sequence[Deployment], jobs: int = 4) -> None:
    """Bring every deployment's recording up to date, ``jobs`` applies at a time; raise naming the ones that failed."""
    if package.main([]) != 0:
        raise ToolError("packaging failed (see above)")
    stale = [d for d in deployments if not up_to_date(d)]
    if not stale:
        return
    progress(f"applying {len(stale)} local deployment(s) side by side: {', '.join(d.suffix for d in stale)}")
    started = time.monotonic()
    running: dict[Deployment, subprocess.Popen[bytes]] = {}
    failed: list[str] = []
    pending = list(stale)
    while pending or running:
        while pending and len(running) < max(1, jobs):
            deployment = pending.pop(0)
            log = BUILD / deployment.suffix / LOG
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "wb") as output:
                running[deployment] = subprocess.Popen(
                    [sys.executable, "-m", "tools.emulator.deployments", "--apply-one", str(deployment)],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
        time.sleep(1)
        for deployment, process in list(running.items()):
            if process.poll() is None:
                continue
            del running[deployment]
            outcome = "ready" if process.returncode == 0 else f"FAILED (see {BUILD / deployment.suffix / LOG})"
            if process.returncode != 0:
                failed.append(f"{deployment}: {BUILD / deployment.suffix / LOG}")
            progress(f"  {deployment.suffix}: {outcome} after {time.monotonic() - started:.0f} s")
    if failed:
        raise ToolError("local deployments failed to apply: " + "; ".join(failed))


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.emulator.deployments", description=__doc__.split("\n\n")[0])
    parser.add_argument("deployments", nargs="*", metavar="SUFFIX:PROFILE:ROUTING")
    parser.add_argument("--jobs", type=int, default=4, help="applies at once (default 4)")
    parser.add_argument("--apply-one", metavar="SUFFIX:PROFILE:ROUTING", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.apply_one:
        return apply_one(Deployment.parse(args.apply_one))
    if not args.deployments:
        parser.error("name at least one deployment, e.g. local:local:eventbridge")
    prepare([Deployment.parse(text) for text in args.deployments], jobs=args.jobs)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
