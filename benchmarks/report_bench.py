"""Long printed documents: `dadkhah report pdf` listing 100,000 published victims, or `dadkhah appeal
export --format pdf` of a letter with 100,000 signatures; the time, pages and peak memory (the
command's process and the processes setting its parts, added up). Prints one JSON line.

Typst holds a whole document while it sets it, about 75 KB a listed victim (60 KB a signatory), so
a long one is set in parts of 3,000 rows (dadkhah.typeset.parts): the target is memory that does not
grow with the list as Typst's would, under 1.5 GB at 100,000 victims, where one document took 7.3 GB.

    python benchmarks/report_bench.py [--document report|letter] [--persons 100000] [--language fa]
                                      [--via command|job] [--folder DIR] [--keep]

``--via job`` asks for the report as the web does (the job "report print", queued by
:func:`dadkhah.jobs.queue_report_print`) and measures ``dadkhah worker --once`` printing it.

The report's workspace is the web benchmark's (:func:`web_bench.build`: a synthetic case of two
lists, one in Persian script and one in Latin script, imported with the real importer, persons
assigned from the known truth), both lists released for publication. The letter's is the appeal
benchmark's (:func:`appeal_bench.build`: ``--persons`` verified signatures, two in three named).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import appeal_bench  # noqa: E402 (the benchmarks beside this one build the workspaces)
import web_bench  # noqa: E402


def tree_rss_kb(root: int) -> int:
    """The resident memory of ``root`` and every process descending from it, in KB."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0"))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, found = 0, {root}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                changed = True
    for pid in found:
        total += rss.get(pid, 0)
    return total


def run_measured(command: list[str], env: dict) -> tuple[dict, float, float]:
    """``command``'s JSON answer, its seconds, and the peak of its process tree's memory in MB
    (sampled every 50 ms)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss_kb(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{err}")
    return json.loads(out), seconds, peak[0] / 1024


# Queue the printed report as the web does, for the user "benchmark"; prints the job's number.
QUEUE = """import sys
from dadkhah.audit import Actor
from dadkhah.jobs import queue_report_print
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace
with open_store(load_workspace(sys.argv[1])) as store:
    print(queue_report_print(store, actor=Actor("benchmark", "web", "127.0.0.1"), language=sys.argv[2]))
"""


def print_by_job(dadkhah: list[str], workspace: Path, language: str, env: dict) -> tuple[dict, float, float]:
    """The report asked for as the web asks, printed by ``dadkhah worker --once``: the job's result,
    the worker's seconds and its peak memory."""
    queued = subprocess.run([sys.executable, "-c", QUEUE, str(workspace), language], env=env, check=True,
                            capture_output=True, text=True)
    job_id = queued.stdout.strip()
    ran, seconds, peak_mb = run_measured([*dadkhah, "worker", "--once", "--json"], env)
    if [job["status"] for job in ran["jobs"]] != ["done"]:
        raise SystemExit(f"the worker did not print the report: {ran}")
    shown = subprocess.run([*dadkhah, "jobs", "show", job_id, "--json"], env=env, check=True, capture_output=True,
                           text=True)
    return json.loads(shown.stdout)["result"], seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--document", choices=("report", "letter"), default="report")
    parser.add_argument("--persons", type=int, default=100_000, help="victims listed, or signatures")
    parser.add_argument("--language", choices=("fa", "en"), default="fa")
    parser.add_argument("--via", choices=("command", "job"), default="command",
                        help="the report: `report pdf`, or a job asked for as the web does and run by the worker")
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="reuse a workspace built before in --folder")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="dadkhah-report-bench-"))
    if args.document == "letter":  # the appeal benchmark's build empties its folder: one of its own
        folder = folder / "letter"
    env = dict(os.environ, DADKHAH_USER="benchmark", XDG_CONFIG_HOME=str(folder / "config"))
    os.environ.update(XDG_CONFIG_HOME=env["XDG_CONFIG_HOME"])
    dadkhah = [sys.executable, "-c", "from dadkhah.cli import main\nif __name__ == '__main__':\n    main()",
               "--workspace", str(folder / "ws")]
    if args.document == "letter":
        if not (args.keep and (folder / "ws").exists()):
            appeal_bench.build(folder, args.persons)
        out = folder / f"letter-{args.language}.pdf"
        printed, seconds, peak_mb = run_measured([*dadkhah, "appeal", "export", appeal_bench.SLUG, "--format", "pdf",
                                                  "--language", args.language, "--out", str(out), "--json"], env)
        listed, extra = printed["signatories"], {"signatures": args.persons}
        megabytes = out.stat().st_size / 2**20
    else:
        if not (args.keep and (folder / "built.json").exists()):
            built = web_bench.build(folder, args.persons, seed=1988)
        else:
            built = json.loads((folder / "built.json").read_text(encoding="utf-8"))
        for source in ("list-1", "list-2"):
            subprocess.run([*dadkhah, "sources", "set", source, "--release", "public", "--json"], env=env,
                           check=True, capture_output=True)
        out = folder / f"report-{args.language}.pdf"
        if args.via == "job":
            printed, seconds, peak_mb = print_by_job(dadkhah, folder / "ws", args.language, env)
        else:
            printed, seconds, peak_mb = run_measured([*dadkhah, "report", "pdf", "--out", str(out), "--lang",
                                                      args.language, "--json"], env)
        listed, extra = printed["persons"], {"records": built["records"], "via": args.via}
        megabytes = printed["bytes"] / 2**20
    result = {
        "benchmark": "report", "document": args.document, "cores": os.cpu_count(), "language": args.language,
        "listed": listed, **extra, "pages": printed["pages"], "megabytes": round(megabytes, 1),
        "seconds": round(seconds, 1), "peak_mb": round(peak_mb), "kb_per_listed": round(peak_mb * 1024 / max(listed, 1), 1),
        "targets": {"peak_mb": 1536}, "met": peak_mb < 1536,
    }
    print(json.dumps(result))
    if not args.folder:
        shutil.rmtree(folder if args.document == "report" else folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
