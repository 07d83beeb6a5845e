"""One measured wrk run as a row of the benchmark scripts' results file.

Usage: python3 benches/wrk_row.py GROUP LABEL ROUND CPU_TICKS_BEFORE CPU_TICKS_AFTER CLK_TCK WRK_OUTPUT
Prints: GROUP LABEL ROUND req/s p50_ms p99_ms cpu_ms_per_request (wrk run with --latency). Fails
on any non-2xx answer.
"""
import re
import sys

group, label, rnd, t0, t1, hz, out = sys.argv[1:]


def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


assert "Non-2xx" not in out, out
reqs = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
cpu = (int(t1) - int(t0)) / int(hz) * 1000 / reqs
print(group, label, rnd, f"{rps:.1f}", f"{p50:.3f}", f"{p99:.3f}", f"{cpu:.4f}")
