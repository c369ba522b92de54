#!/usr/bin/env python3
"""Run a neardup scan as stages on a Ray cluster.

    pip install ray
    python distributed/neardup_ray.py --work /shared/work --shards 64 -o /shared/out \\
        [--address auto] [--binary /shared/bin/neardup] -- /shared/dump/ [scan options]

The neardup binary is the only program that touches data; this driver only schedules it. Every
task runs `neardup stage ...` on one shard, band or part of a work directory on storage that every
node sees (NFS, Lustre, a mounted bucket). The driver plans here; `neardup stage plan` prints the
phases in order (today: sketch x shards, boilerplate, signatures x shards, exact, buckets x
(bands x key ranges), verify x parts, components), and the driver runs them as printed: phases
in order, the tasks of a phase in parallel, the whole-corpus phases on the largest node.

Tasks are `ray.remote(num_cpus=..., max_retries=...)`: a task whose worker or node dies is run
again, and since every neardup task writes its files atomically and skips work already marked
done, a retry (or rerunning this driver on the same work directory) gives the same result.
The output is byte-identical to `neardup scan` with the same inputs and options.

Prints one JSON line per stage (tasks, wall seconds, summed task seconds) and a final summary.
`--kill-one STAGE:INDEX` kills that task (the neardup process and its Ray worker) mid-way on its
first attempt, to show a retry gives the same result (used by the CI test).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@ray.remote
def stage_task(binary, args, threads, cwd, kill_marker=None):
    """Run `neardup stage ARGS` here, in the driver's directory (relative input paths mean the
    same on shared storage); returns (args, seconds, exit code)."""
    cmd = [binary, "stage", *args, "-q", "-j", str(threads)]
    if kill_marker is not None and not os.path.exists(kill_marker):
        # Fault injection: start the task, kill it and this worker mid-way, first attempt only.
        with open(kill_marker, "w") as f:
            f.write("killed\n")
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
        p.kill()
        p.wait()
        os.kill(os.getpid(), signal.SIGKILL)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return args, time.perf_counter() - t, r.returncode


def largest_node():
    """Node id of the alive node with the most memory (for boilerplate and components)."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    best = max(nodes, key=lambda n: (n["Resources"].get("memory", 0), n["Resources"].get("CPU", 0)))
    return best["NodeID"]


def run_stage(name, task_args, a, pinned=None, log=print):
    """Submit one task per argument list and wait for all; returns the exit codes."""
    t = time.perf_counter()
    opts = {"num_cpus": a.cpus_per_task, "max_retries": a.max_retries, "retry_exceptions": True}
    if pinned is not None:
        # Soft: the biggest node is preferred, but a retry after it died may run elsewhere.
        opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(pinned, soft=True)
    refs = []
    for i, args in enumerate(task_args):
        marker = None
        if a.kill_one == f"{name}:{i}":
            marker = os.path.join(a.work, f".killed-{name}-{i}")
        refs.append(stage_task.options(**opts).remote(a.binary, args, a.cpus_per_task, os.getcwd(), marker))
    results = ray.get(refs)
    wall = time.perf_counter() - t
    log(json.dumps({"stage": name, "tasks": len(refs), "wall_s": round(wall, 3),
                    "task_s": round(sum(r[1] for r in results), 3)}))
    return [r[2] for r in results]


def drive(a, scan_args, log=print):
    """Plan here, run every stage on the cluster; returns the components exit code."""
    os.makedirs(a.work, exist_ok=True)
    plan = subprocess.run(
        [a.binary, "stage", "plan", "--work", a.work, "--shards", str(a.shards),
         "--parts", str(a.parts), "--key-ranges", str(a.key_ranges), "-q", "--", *scan_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if plan.returncode != 0:
        raise RuntimeError(f"neardup stage plan failed: {plan.stderr.strip()}")
    p = json.loads(plan.stdout)
    big = largest_node()
    code = 0
    for phase in p["phases"]:
        tasks = []
        for i in range(phase["tasks"]):
            args = [phase["name"], "--work", a.work]
            if phase["index"]:
                args += [phase["index"], str(i)]
            if phase["output"]:
                args += ["-o", a.output]
                if a.fail_on_duplicates:
                    args.append("--fail-on-duplicates")
            tasks.append(args)
        codes = run_stage(phase["name"], tasks, a, pinned=big if phase["whole_corpus"] else None,
                          log=log)
        if phase["output"]:
            (code,) = codes
    return code


def parse(argv):
    if "--" not in argv:
        sys.exit("usage: neardup_ray.py [options] -- INPUT... [scan options]  (see --help)")
    cut = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="work directory on shared storage")
    ap.add_argument("-o", "--output", required=True, help="output directory")
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--parts", type=int, default=8, help="verification tasks")
    ap.add_argument("--key-ranges", type=int, default=1,
                    help="key ranges per LSH band (buckets tasks = bands x key ranges)")
    ap.add_argument("--address", default=None, help="Ray address (default: start or join local)")
    ap.add_argument("--binary", default=shutil.which("neardup") or "neardup")
    ap.add_argument("--cpus-per-task", type=int, default=1)
    ap.add_argument("--max-retries", type=int, default=3)
    ap.add_argument("--fail-on-duplicates", action="store_true")
    ap.add_argument("--kill-one", default=None, metavar="STAGE:INDEX", help=argparse.SUPPRESS)
    a = ap.parse_args(argv[:cut])
    a.work = os.path.abspath(a.work)
    a.output = os.path.abspath(a.output)
    a.binary = os.path.abspath(a.binary) if os.path.exists(a.binary) else a.binary
    return a, argv[cut + 1:]


def main(argv=None):
    a, scan_args = parse(sys.argv[1:] if argv is None else argv)
    ray.init(address=a.address, logging_level="ERROR", log_to_driver=False)
    try:
        return drive(a, scan_args)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
