"""The memorial site for 100,000 victims in two languages: the first build, an unchanged rebuild, and
a rebuild after a few persons are withheld; then the same site asked for as the web asks (the job
"memorial build": built afresh, signed and zipped by ``dadkhah worker``). Prints one JSON line.

Target (issue 14): under 3 minutes and 2 GB on 2 cores, and the site's search answering in the
browser in under 300 ms: Chromium opens the search page from a plain static server on loopback and
types names of several frequencies in both scripts; the time is the page's own (from the query to
the results drawn: key files and person files loaded, lists intersected), the first query of a page
(nothing cached) and the rest.

    python benchmarks/memorial_bench.py [--persons 100000] [--folder DIR] [--keep]

The workspace is the web benchmark's (:func:`web_bench.build`: a synthetic case of two lists, one in
Persian script and one in Latin script, imported with the real importer, persons assigned from the
known truth). Both lists are then released for publication. Each build runs ``dadkhah publish
memorial`` in a child process, so that its peak memory (the child's maximum resident set) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import web_bench  # noqa: E402 (the benchmark beside this one builds the workspace)

# Runs the command line in this child process, then reports the child's own peak resident memory
# (VmHWM: ``getrusage``'s ``ru_maxrss`` would also count what the parent process had used).
_CHILD = """
import sys
from dadkhah.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open("/proc/self/status", encoding="ascii") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f"peak-kb {peak}", file=sys.stderr)
sys.exit(code)
"""


def _run(*args: str, folder: Path) -> tuple[dict, float, float]:
    """One command in a child process: its JSON answer, seconds, and the child's peak memory in MB."""
    started = time.perf_counter()
    answer = subprocess.run([sys.executable, "-c", _CHILD, "--workspace", str(folder / "ws"), *args, "--json"],
                            capture_output=True, text=True, check=True,
                            env=dict(os.environ, DADKHAH_USER="benchmark"))
    seconds = time.perf_counter() - started
    peak = next(int(line.split()[1]) for line in answer.stderr.splitlines()[::-1] if line.startswith("peak-kb "))
    return json.loads(answer.stdout), seconds, peak / 1024


# Queue the memorial site as the web does, for the user "benchmark"; prints the job's number.
QUEUE = """import sys
from dadkhah.audit import Actor
from dadkhah.jobs import queue_memorial_build
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace
with open_store(load_workspace(sys.argv[1])) as store:
    print(queue_memorial_build(store, actor=Actor("benchmark", "web", "127.0.0.1")))
"""


def build_by_job(folder: Path) -> dict:
    """The site asked for as the web asks, built by ``dadkhah worker --once``: seconds, peak, the zip."""
    env = dict(os.environ, DADKHAH_USER="benchmark")
    job_id = subprocess.run([sys.executable, "-c", QUEUE, str(folder / "ws")], env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    ran, seconds, peak_mb = _run("worker", "--once", folder=folder)
    shown, _, _ = _run("jobs", "show", job_id, folder=folder)
    if [job["status"] for job in ran["jobs"]] != ["done"]:
        raise SystemExit(f"the worker did not build the site: {shown.get('error')}")
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_mb), "zip_bytes": shown["result"]["bytes"],
            "files": shown["result"]["files"]}


QUERIES = ("Mohammad", "محمد", "Ali Rezaei", "حسین محمدی", "Zahra", "Fatemeh Karimi", "Rezai", "Gholamreza",
           "Hosseini", "سید علی", "Mohammad Ali", "Ahmadi", "Moh")


def search_times(site: Path) -> dict:
    """Milliseconds each query took in Chromium, as the search page measures it, per language."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    times, found = {"first": [], "later": []}, {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=os.environ.get("DADKHAH_CHROMIUM", "/usr/bin/chromium"),
                                                 args=["--no-sandbox"])
            for language in ("en", "fa"):
                page = browser.new_page()
                page.goto(f"{address}/{language}/search/index.html")
                for number, query in enumerate(QUERIES):
                    page.fill("#q", query)
                    page.press("#q", "Enter")
                    page.wait_for_function("q => document.getElementById('results').dataset.query === q", arg=query)
                    times["first" if number == 0 else "later"].append(int(page.get_attribute("#results", "data-ms")))
                    if language == "en":
                        found[query] = page.text_content("#found")
                page.close()
            browser.close()
    finally:
        server.shutdown()
    later = sorted(times["later"])
    return {"queries": len(QUERIES) * 2, "first_ms": max(times["first"]), "median_ms": later[len(later) // 2],
            "max_ms": max(later), "found": {q: found[q] for q in ("Mohammad", "محمد", "Ali Rezaei")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="reuse a workspace built before in --folder")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="dadkhah-memorial-bench-"))
    os.environ.setdefault("XDG_CONFIG_HOME", str(folder / "config"))
    if not (args.keep and (folder / "built.json").exists()):
        built = web_bench.build(folder, args.persons, seed=1988)
        from dadkhah.vault.keys import create_keys
        from dadkhah.workspace import load_workspace

        create_keys(load_workspace(folder / "ws"), key_file=folder / "keys" / "bench.key")
    else:
        built = json.loads((folder / "built.json").read_text(encoding="utf-8"))
    for source in ("list-1", "list-2"):
        _run("sources", "set", source, "--release", "public", folder=folder)
    withheld = ("P-000010", "P-000020", "P-000030")
    for person in withheld:  # a workspace kept from an earlier run still has them withheld
        try:
            _run("persons", "release", person, folder=folder)
        except subprocess.CalledProcessError:
            pass
    site = folder / "site"
    shutil.rmtree(site, ignore_errors=True)
    first, first_seconds, first_mb = _run("publish", "memorial", "--out", str(site), folder=folder)
    again, again_seconds, again_mb = _run("publish", "memorial", "--out", str(site), folder=folder)
    for person in withheld:
        _run("persons", "withhold", person, "--reason", "benchmark", folder=folder)
    changed, changed_seconds, changed_mb = _run("publish", "memorial", "--out", str(site), folder=folder)
    verified, verify_seconds, _ = _run("verify-site", str(site), "--expect-key", first["fingerprint"], folder=folder)
    search = search_times(site)
    by_job = build_by_job(folder)
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    result = {
        "benchmark": "memorial", "cores": os.cpu_count(), "persons": first["persons"], "records": built["records"],
        "languages": first["languages"], "files": first["files"], "bytes": size,
        "first_build": {"seconds": round(first_seconds, 1), "pages_written": first["pages_written"],
                        "peak_mb": round(first_mb)},
        "unchanged_rebuild": {"seconds": round(again_seconds, 1), "pages_written": again["pages_written"],
                              "peak_mb": round(again_mb)},
        "three_withheld": {"seconds": round(changed_seconds, 1), "pages_written": changed["pages_written"],
                           "files_removed": changed["files_removed"], "peak_mb": round(changed_mb)},
        "verify_site": {"seconds": round(verify_seconds, 1), "intact": verified["intact"]},
        "search": search, "search_files": first["search"], "built_by_job": by_job,
        "targets": {"seconds": 180, "peak_mb": 2048, "search_ms": 300},
        "met": first_seconds < 180 and first_mb < 2048 and verified["intact"]
        and max(search["first_ms"], search["max_ms"]) < 300,
    }
    print(json.dumps(result))
    if not args.folder:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
