"""Work shared among worker processes: how they are started, and what to say when they die.

Two kinds of work use both cores through processes of their own: the bootstrap of a log-linear
estimate (:mod:`dadkhah.estimate.loglinear`) and the setting of a long printed report in parts
(:mod:`dadkhah.typeset.report`, where a process also gives back the memory its part needed). Both
start them the same way: from a fork server that has imported the modules they need once, not
forked from the calling process, which may be a web server or a job worker with threads of its own;
spawned where the system has no fork server.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def worker_context(preload: list[str]):
    """A multiprocessing context whose processes come from a fork server that imported ``preload``
    (the modules their work needs); a spawning one where there is no fork server. The fork server
    is one per process: the first caller's ``preload`` is what it imports, and a later caller's
    modules are imported by each worker when it starts (slower, not different)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    return context


def broken_pool_message(what: str, alone: str | None = None) -> str:
    """Why ``what`` (say, "the bootstrap's 2 worker processes") stopped, as far as this process can
    tell, and what to do; ``alone``, when given, says how to do the work with less at once.

    Each worker process starts by running the main script again (Python's multiprocessing, for
    spawned and fork-server processes). A script with no ``if __name__ == "__main__":`` guard then
    starts the work again inside the worker, which multiprocessing forbids: the commonest cause."""
    message = f"{what} stopped before finishing"
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None) if getattr(main, "__spec__", None) is None else None
    try:
        unguarded = bool(script) and "__main__" not in Path(script).read_text(errors="replace")
    except OSError:
        unguarded = False
    if unguarded:
        return (f"{message}: each worker starts by running the script {script} again, and that script has no "
                "`if __name__ == \"__main__\":` guard. Put the script's work under that guard"
                + (f" (or {alone})" if alone else ""))
    return f"{message}: one ran out of memory or was stopped" + (f" ({alone})" if alone else "")
