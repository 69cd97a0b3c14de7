"""Plots of a `benches/compare.sh` report: latency distributions and latency vs concurrency.

python plot.py bench-report/report.json  ->  latency.png, concurrency.png beside it
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"vox": "#1f77b4", "pipecat": "#ff7f0e", "vox-webrtc": "#2ca02c"}


def main(path):
    report = json.load(open(path))
    out = os.path.dirname(os.path.abspath(path))
    runtimes = report["runtimes"]

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, title in [
        (axes[0], "voice_to_voice_ms", "Voice-to-voice (one call)"),
        (axes[1], "barge_in_to_silence_ms", "Barge-in onset -> agent audio stops"),
    ]:
        data = [r[key]["samples"] for r in runtimes]
        labels = [r["runtime"] for r in runtimes]
        if any(data):
            parts = ax.boxplot(data, tick_labels=labels, showfliers=True, patch_artist=True)
            for patch, label in zip(parts["boxes"], labels):
                patch.set_facecolor(COLOURS.get(label, "grey"))
                patch.set_alpha(0.5)
        if key == "voice_to_voice_ms":
            ax.axhline(report["floor_ms"], color="grey", linestyle="--", linewidth=1, label="floor (waits + model latencies)")
            ax.legend(loc="upper left", fontsize=8)
        ax.set_title(title)
        ax.set_ylabel("ms, from the caller's side")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Vox vs Pipecat {report.get('pipecat_version') or ''} - {report['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency.png"), dpi=120)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in [r for r in runtimes if r["sweep"]]:
        xs = [l["calls"] for l in r["sweep"] if l["v2v_p95_ms"] is not None]
        p95 = [l["v2v_p95_ms"] for l in r["sweep"] if l["v2v_p95_ms"] is not None]
        p50 = [l["v2v_p50_ms"] for l in r["sweep"] if l["v2v_p50_ms"] is not None]
        c = COLOURS.get(r["runtime"], "grey")
        ax.plot(xs, p95, marker="o", color=c, label=f"{r['runtime']} p95")
        ax.plot(xs[: len(p50)], p50, marker=".", linestyle=":", color=c, label=f"{r['runtime']} p50")
        if p95:
            ax.axhline(p95[0] * 1.2, color=c, linestyle="--", linewidth=0.8, alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent calls (2 cores)")
    ax.set_ylabel("voice-to-voice, ms")
    ax.set_title("Latency vs concurrency (dashed: 1.2 x single-call p95)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "concurrency.png"), dpi=120)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench-report/report.json")
