"""Run the paper's published RFM code on one degenerate partition it draws itself.

This script runs *inside the published code's environment* (PyTorch, its own modules), not in
grokrfm's: ``tools/published_compare.py`` calls it as a subprocess with the interpreter and the
checkout the user brings (public repository ``marceltomas/breaking-data-symmetries``), and reads
the ``.npz`` it writes. Nothing of the published code is part of this project; this file only
imports it from the checkout given on the command line.

    PYTHON driver.py CHECKOUT CASE_JSON OUT.npz

``CASE_JSON`` holds ``op, p, reflection, moved, pairs, seed, iters, kernel`` (bandwidth 2.5,
ridge 0, as the paper). The output holds the partition exactly as the published code built it
(operand index pairs in its own row order; x*y and x/y indices are residues minus one, as
grokrfm's), the per-iteration train and test accuracy it reports, and every M it computed.
"""

import json
import os
import sys
import time


def main(argv):
    checkout, case_json, out = argv
    case = json.loads(case_json)
    threads = int(os.environ.get("PUBLISHED_THREADS", "0"))
    sys.path.insert(0, os.path.abspath(checkout))
    os.chdir(checkout)  # the published modules import each other by bare name

    import easydict
    import numpy as np
    import torch
    from train_kernel import train

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(int(case["seed"]))
    data_args = easydict.EasyDict(
        operation=case["op"],
        prime=int(case["p"]),
        partition_type="degenerate",
        reflections=int(case["reflection"]),
        n_test_to_train=0,
        n_train_to_test=int(case["moved"]),
        n_pairs_to_test=int(case.get("pairs", 0)),
        M_reflection=None,
    )
    rfm_args = easydict.EasyDict(
        iters=int(case["iters"]),
        ridge=0.0,
        bandwidth=2.5,
        ntk_depth=2,
        kernel_type=case["kernel"],
        print_progress=False,
        device=torch.device("cpu"),
    )
    start = time.perf_counter()
    result, used = train(data_args, rfm_args)
    seconds = time.perf_counter() - start

    def operands(X):
        half = X.shape[1] // 2
        return np.stack([X[:, :half].argmax(1).numpy(), X[:, half:].argmax(1).numpy()], axis=1)

    tmp = out + ".part.npz"
    np.savez_compressed(
        tmp,
        train=operands(used.X_tr).astype(np.int32),
        test=operands(used.X_te).astype(np.int32),
        train_acc=np.array([float(a) for a in result.train_accs]),
        test_acc=np.array([float(a) for a in result.test_accs]),
        M_history=np.stack([np.asarray(M, dtype=np.float64) for M in result.M_list]),
        seconds=np.float64(seconds),
        torch_version=np.str_(torch.__version__),
        threads=np.int32(torch.get_num_threads()),
    )
    os.replace(tmp, out)
    print(
        f"{case['kernel']} {case['op']} p={case['p']} sr^{case['reflection']} moved={case['moved']}"
        f" pairs={case.get('pairs', 0)} seed={case['seed']}: {seconds:.1f} s,"
        f" final test {float(result.test_accs[-1]):.4f}",
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
