"""Charts of estimates, drawn with matplotlib's own fonts and no outside request, to PNG."""

from __future__ import annotations

from pathlib import Path


def plot_estimate(document: dict, out: str | Path) -> str:
    """One chart: per stratum when the estimate has strata, else the total; observed beside estimated.

    Each row shows how many people the lists name (dark bar), the estimate (dot) and its interval
    (line), so a reader sees at once how much of the total is estimated rather than named.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out = Path(out)
    if out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    rows = [s for s in document.get("strata") or [] if s.get("estimate") is not None]
    if not rows:
        rows = [{"name": "All", "observed": document["observed"], "estimate": document["estimate"], "interval": document["interval"]}]
    rows.sort(key=lambda r: r["estimate"])
    height = max(2.5, 0.32 * len(rows) + 1.4)
    figure, axis = plt.subplots(figsize=(8, height), dpi=120)
    positions = range(len(rows))
    axis.barh(list(positions), [r["observed"] for r in rows], color="#4a5568", height=0.6, label="named on the lists")
    for y, r in zip(positions, rows, strict=True):
        lo, hi = r["interval"]
        axis.plot([lo, hi], [y, y], color="#c53030", linewidth=2)
        axis.plot([r["estimate"]], [y], "o", color="#c53030", markersize=5)
    axis.plot([], [], "o-", color="#c53030", label=f"estimated total, {int(round(100 * document.get('level', 0.95)))}% interval")
    axis.set_yticks(list(positions), [str(r.get("name") or r.get("stratum")) for r in rows], fontsize=8)
    axis.set_xlabel("people")
    title = (f"{document['method']}: {document['estimate']:,.0f} estimated "
             f"[{document['interval'][0]:,.0f}, {document['interval'][1]:,.0f}], {document['observed']:,} named")
    axis.set_title(title, fontsize=10)
    axis.legend(loc="lower right", fontsize=8)
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return str(out)
