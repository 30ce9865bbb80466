"""POT side of bench/rd.bench.ts: times ot.gromov.fused_gromov_wasserstein on instances sent by the bench.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  On start it prints {"ready": true, "pot": ..., "numpy": ..., "blas": ..., "blasThreads": n | null}.
  Request  {"c1": [[...]], "c2": [[...]], "f1": [[...]], "f2": [[...]], "alpha": 0.5, "blasThreads": 1 | null}
  Reply    {"ms": t, "distance": d, "iterations": k, "blasThreads": n | null}
Only the solver call is timed (time.perf_counter), so process start, JSON and the M = ot.dist(F1, F2)
computation are excluded. fused_gromov_wasserstein(log=True) gives the same fgw_dist as
fused_gromov_wasserstein2 without the latter's gradient products, i.e. the cheaper of the two.
"""

import json
import sys
import time

import numpy as np
import ot

try:  # Optional: reports and limits OpenBLAS's thread count in this process.
    import threadpoolctl
except ImportError:
    threadpoolctl = None


def blas_info():
    if threadpoolctl is None:
        return None, None
    for pool in threadpoolctl.threadpool_info():
        if pool.get("user_api") == "blas":
            return "%s %s" % (pool.get("internal_api"), pool.get("version")), pool.get("num_threads")
    return None, None


def solve(request):
    c1 = np.asarray(request["c1"], dtype=np.float64)
    c2 = np.asarray(request["c2"], dtype=np.float64)
    m = ot.dist(np.asarray(request["f1"], dtype=np.float64), np.asarray(request["f2"], dtype=np.float64))
    p = ot.unif(c1.shape[0])
    q = ot.unif(c2.shape[0])
    started = time.perf_counter()
    _, log = ot.gromov.fused_gromov_wasserstein(
        m, c1, c2, p, q, loss_fun="square_loss", alpha=request["alpha"], log=True
    )
    elapsed = time.perf_counter() - started
    return {
        "ms": elapsed * 1000.0,
        "distance": float(log["fgw_dist"]),
        "iterations": len(log["loss"]) - 1,
    }


def main():
    blas, threads = blas_info()
    print(
        json.dumps(
            {"ready": True, "pot": ot.__version__, "numpy": np.__version__, "blas": blas, "blasThreads": threads}
        ),
        flush=True,
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        limit = request.get("blasThreads")
        if limit is not None and threadpoolctl is not None:
            with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
                reply = solve(request)
                reply["blasThreads"] = blas_info()[1]
        else:
            reply = solve(request)
            reply["blasThreads"] = threads if limit is None else None
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
